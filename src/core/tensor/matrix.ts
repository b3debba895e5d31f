// A dense row-major matrix over a typed array: the one 2-D container the core math shares
// (ridge fits, reduced-rank factors, feature tables). Kept deliberately small: no operator
// overloading, no views; heavy products go through decode/ backends.
export type FloatArray = Float32Array | Float64Array;

export interface Matrix<T extends FloatArray = FloatArray> {
  rows: number;
  cols: number;
  /** Row-major: element (i, j) is data[i * cols + j]. */
  data: T;
}

export function matrix(rows: number, cols: number, data?: Float32Array): Matrix<Float32Array>;
export function matrix<T extends FloatArray>(rows: number, cols: number, data: T): Matrix<T>;
export function matrix(rows: number, cols: number, data?: FloatArray): Matrix {
  const d = data ?? new Float32Array(rows * cols);
  if (d.length !== rows * cols) {
    throw new RangeError(`matrix: data has ${d.length} elements, expected ${rows}x${cols} = ${rows * cols}`);
  }
  return { rows, cols, data: d };
}

export function matrix64(rows: number, cols: number, data?: Float64Array): Matrix<Float64Array> {
  return matrix(rows, cols, data ?? new Float64Array(rows * cols));
}

export function row<T extends FloatArray>(m: Matrix<T>, i: number): T {
  return m.data.subarray(i * m.cols, (i + 1) * m.cols) as T;
}

export function transpose<T extends FloatArray>(m: Matrix<T>): Matrix<T> {
  const Ctor = m.data.constructor as { new (n: number): T };
  const out = new Ctor(m.rows * m.cols);
  for (let i = 0; i < m.rows; i++) {
    for (let j = 0; j < m.cols; j++) out[j * m.rows + i] = m.data[i * m.cols + j];
  }
  return { rows: m.cols, cols: m.rows, data: out };
}

/** C = A · B in float64 accumulation; i-k-j loop order so the inner loop walks rows contiguously. */
export function matmul(a: Matrix, b: Matrix): Matrix<Float64Array> {
  if (a.cols !== b.rows) throw new RangeError(`matmul: ${a.rows}x${a.cols} · ${b.rows}x${b.cols}`);
  const out = new Float64Array(a.rows * b.cols);
  const n = b.cols;
  for (let i = 0; i < a.rows; i++) {
    const o = i * n;
    for (let k = 0; k < a.cols; k++) {
      const v = a.data[i * a.cols + k];
      if (v === 0) continue;
      const bo = k * n;
      for (let j = 0; j < n; j++) out[o + j] += v * b.data[bo + j];
    }
  }
  return { rows: a.rows, cols: n, data: out };
}

export function toFloat32(m: Matrix): Matrix<Float32Array> {
  return m.data instanceof Float32Array ? (m as Matrix<Float32Array>) : matrix(m.rows, m.cols, Float32Array.from(m.data));
}
