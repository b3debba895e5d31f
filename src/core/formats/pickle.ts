// A safe Python unpickler (protocols 0-5, binary opcodes) that only ever builds data: dicts, lists,
// tuples, str, bytes, int, float, bool, None and numpy arrays of numeric or string dtype. Every
// GLOBAL is looked up in an allow-list of pure constructors written here; anything else is refused
// with a DisallowedPickleError naming the class and the file, at the moment it is referenced, so no
// foreign code is ever run (there is no `eval`, no import, no attribute lookup by name).
//
// Large byte strings (MIRAGE's ridge weights are tens of GB) can be left on disk: with `lazyBytes`
// set, any bytes/bytearray longer than it becomes a LazyBytes window into the source, which the
// array helpers read a row block at a time.
import { sourceName, SourceReader, type ByteSource, type SequentialReader } from './byteSource.ts';
import { fromHalf } from '../tensor/float16.ts';
import { DisallowedPickleError, FormatError } from './errors.ts';

/** A window of the pickle file that was not read into memory. */
export interface LazyBytes {
  lazy: true;
  source: ByteSource;
  offset: number;
  length: number;
}
export type Bytes = Uint8Array | LazyBytes;

export function isLazy(b: unknown): b is LazyBytes {
  return typeof b === 'object' && b !== null && (b as LazyBytes).lazy === true;
}

/** Python bytes (also bytearray and PickleBuffer contents). */
export class PyBytes {
  constructor(readonly data: Bytes) {}
  get length(): number {
    return isLazy(this.data) ? this.data.length : this.data.byteLength;
  }
}

/** A tuple: an array that is frozen (lists are plain arrays). */
export type PyTuple = readonly PyValue[];
export type PyValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | PyBytes
  | PyValue[]
  | PyTuple
  | Map<PyKey, PyValue>
  | NdArray
  | NpDtype
  | Opaque;
export type PyKey = string | number | bigint | boolean | null;

/** A value the allow-list knows but that has no data meaning outside its constructor (a class token). */
export class Opaque {
  constructor(
    readonly name: string,
    readonly payload?: unknown,
  ) {}
}

export function isTuple(v: unknown): v is PyTuple {
  return Array.isArray(v) && Object.isFrozen(v);
}

/** numpy dtype of a plain (non-structured) array. */
export class NpDtype {
  /** 'f' float, 'i' signed, 'u' unsigned, 'b' bool, 'U' UTF-32 string, 'S' bytes string, 'c' complex. */
  kind: string;
  itemsize: number;
  littleEndian = true;
  constructor(readonly spec: string) {
    const m = /^([<>|=]?)([fiubUSc])(\d*)$/.exec(spec);
    if (!m) throw new Error(`unsupported numpy dtype "${spec}"`);
    this.kind = m[2];
    const n = m[3] ? Number(m[3]) : this.kind === 'b' ? 1 : 0;
    // numpy names U by characters (4 bytes each) and the rest by bytes
    this.itemsize = this.kind === 'U' ? 4 * n : n;
    if (m[1] === '>') this.littleEndian = false;
  }
  get str(): string {
    const order = this.itemsize === 1 || this.kind === 'S' ? '|' : this.littleEndian ? '<' : '>';
    return `${order}${this.kind}${this.kind === 'U' ? this.itemsize / 4 : this.itemsize}`;
  }
}

/** A numpy array: raw bytes plus dtype, shape and memory order. */
export class NdArray {
  constructor(
    public dtype: NpDtype,
    public shape: number[],
    public fortranOrder: boolean,
    public data: Bytes,
  ) {}
  get size(): number {
    return this.shape.reduce((a, b) => a * b, 1);
  }
}

export interface UnpickleOptions {
  /** Shown in errors; defaults to the source's name. */
  file?: string;
  /** Bytes longer than this stay on disk as LazyBytes (only for an uncompressed ByteSource). */
  lazyBytes?: number;
  /** Out-of-band buffers for protocol 5's NEXT_BUFFER, in order. */
  buffers?: Uint8Array[];
  /** Handler of persistent ids (PyTorch's storages). Without it, a persistent id is refused. */
  persistentLoad?: (pid: PyValue) => PyValue;
  /** Extra allowed globals (PyTorch's rebuild functions), "module.name" -> constructor. */
  extraGlobals?: Record<string, GlobalImpl>;
}

/** How an allowed global behaves when called (REDUCE/NEWOBJ) and when its result gets BUILD state. */
export interface GlobalImpl {
  call?: (args: PyTuple, file: string) => PyValue;
  build?: (obj: PyValue, state: PyValue, file: string) => PyValue;
}

const MARK = Symbol('mark');
type StackItem = PyValue | typeof MARK | GlobalRef;

class GlobalRef {
  constructor(
    readonly name: string,
    readonly impl: GlobalImpl,
  ) {}
}

function tuple(items: PyValue[]): PyTuple {
  return Object.freeze(items);
}

function asString(v: PyValue, file: string, what: string): string {
  if (typeof v === 'string') return v;
  if (v instanceof PyBytes && !isLazy(v.data)) return latin1(v.data);
  throw new FormatError(file, `expected a string for ${what}`, { field: what, expected: 'str' });
}

function latin1(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.byteLength; i += 4096) s += String.fromCharCode(...b.subarray(i, i + 4096));
  return s;
}

function shapeOf(v: PyValue, file: string): number[] {
  if (!Array.isArray(v)) throw new FormatError(file, 'array shape is not a tuple', { field: 'ndarray shape', expected: 'tuple of ints' });
  return v.map((d) => Number(d));
}

function dtypeOf(v: PyValue, file: string): NpDtype {
  if (v instanceof NpDtype) return v;
  throw new FormatError(file, 'array dtype is not a numpy dtype', { field: 'ndarray dtype', expected: 'numpy.dtype' });
}

function bytesOf(v: PyValue, file: string, what: string): Bytes {
  if (v instanceof PyBytes) return v.data;
  if (typeof v === 'string') return Uint8Array.from(v, (c) => c.charCodeAt(0) & 0xff); // py2 str
  throw new FormatError(file, `expected bytes for ${what}`, { field: what, expected: 'bytes' });
}

function makeDtype(args: PyTuple, file: string): NpDtype {
  const spec = asString(args[0], file, 'numpy.dtype');
  try {
    return new NpDtype(spec);
  } catch {
    throw new FormatError(file, `numpy dtype "${spec}" is not supported`, {
      field: 'numpy.dtype',
      expected: 'a numeric (f, i, u, b, c) or string (U, S) dtype; object and structured dtypes are refused',
    });
  }
}

function buildDtype(obj: PyValue, state: PyValue, file: string): PyValue {
  const d = dtypeOf(obj, file);
  if (!Array.isArray(state)) return d;
  // (version, byteorder, subdescr, names, fields, elsize, alignment, flags[, metadata])
  const order = state[1];
  if (order === '>') d.littleEndian = false;
  if (order === '<' || order === '|' || order === '=') d.littleEndian = true;
  if (state[2] !== null || state[3] !== null || state[4] !== null) {
    throw new FormatError(file, 'structured / sub-array numpy dtypes are not supported', { field: 'numpy.dtype', expected: 'a plain numeric or string dtype' });
  }
  const elsize = Number(state[5]);
  if ((d.kind === 'U' || d.kind === 'S') && elsize > 0) d.itemsize = elsize;
  return d;
}

function scalarFromBytes(dtype: NpDtype, b: Uint8Array): PyValue {
  const arr = new NdArray(dtype, [], false, b);
  if (dtype.kind === 'U' || dtype.kind === 'S') return ndarrayStrings(arr)[0];
  if (dtype.kind === 'b') return b[0] !== 0;
  if ((dtype.kind === 'i' || dtype.kind === 'u') && dtype.itemsize === 8) {
    const dv = new DataView(b.buffer, b.byteOffset, 8);
    const big = dtype.kind === 'i' ? dv.getBigInt64(0, dtype.littleEndian) : dv.getBigUint64(0, dtype.littleEndian);
    return big >= BigInt(Number.MIN_SAFE_INTEGER) && big <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(big) : big;
  }
  return ndarrayToFloat64(arr)[0];
}

const reconstruct: GlobalImpl = {
  // numpy.core.multiarray._reconstruct(ndarray, (0,), b'b'): an empty array that BUILD fills in
  call: (args, file) => {
    if (!(args[0] instanceof Opaque) || args[0].name !== 'numpy.ndarray') {
      throw new FormatError(file, '_reconstruct of something other than numpy.ndarray', { field: 'ndarray', expected: 'numpy.ndarray' });
    }
    return new NdArray(new NpDtype('|u1'), [0], false, new Uint8Array(0));
  },
  build: (obj, state, file) => {
    if (!(obj instanceof NdArray) || !Array.isArray(state)) throw new FormatError(file, 'bad ndarray state', { field: 'ndarray.__setstate__', expected: '(version, shape, dtype, is_fortran, data)' });
    const s = state.length === 5 ? state.slice(1) : state; // version is optional
    obj.shape = shapeOf(s[0], file);
    obj.dtype = dtypeOf(s[1], file);
    obj.fortranOrder = Boolean(s[2]);
    if (Array.isArray(s[3])) {
      throw new FormatError(file, 'numpy array of Python objects (object dtype) refused', { field: 'ndarray data', expected: 'raw bytes of a numeric or string dtype' });
    }
    obj.data = bytesOf(s[3], file, 'ndarray data');
    checkArray(obj, file);
    return obj;
  },
};

function checkArray(a: NdArray, file: string): void {
  const need = a.size * a.dtype.itemsize;
  const have = isLazy(a.data) ? a.data.length : a.data.byteLength;
  if (have !== need) {
    throw new FormatError(file, `array data has ${have} bytes`, { field: 'ndarray data', expected: `${need} bytes for ${a.dtype.str} [${a.shape.join(', ')}]` });
  }
}

const frombuffer: GlobalImpl = {
  // numpy.core.numeric._frombuffer(buffer, dtype, shape, order): protocol 5's path
  call: (args, file) => {
    const data = bytesOf(args[0], file, 'ndarray buffer');
    const a = new NdArray(dtypeOf(args[1], file), shapeOf(args[2], file), asString(args[3], file, 'order') === 'F', data);
    checkArray(a, file);
    return a;
  },
};

const ordered: GlobalImpl = {
  call: (args) => {
    const m = new Map<PyKey, PyValue>();
    const items = args[0];
    if (Array.isArray(items)) for (const kv of items) if (Array.isArray(kv)) m.set(kv[0] as PyKey, kv[1]);
    return m;
  },
  build: (obj) => obj,
};

const BASE_GLOBALS: Record<string, GlobalImpl> = {
  'numpy.ndarray': {},
  'numpy.dtype': { call: makeDtype, build: buildDtype },
  'numpy.core.multiarray._reconstruct': reconstruct,
  'numpy._core.multiarray._reconstruct': reconstruct,
  'numpy.core.numeric._frombuffer': frombuffer,
  'numpy._core.numeric._frombuffer': frombuffer,
  'numpy.core.multiarray.scalar': {
    call: (args, file) => scalarFromBytes(dtypeOf(args[0], file), bytesOf(args[1], file, 'numpy scalar') as Uint8Array),
  },
  'numpy._core.multiarray.scalar': {
    call: (args, file) => scalarFromBytes(dtypeOf(args[0], file), bytesOf(args[1], file, 'numpy scalar') as Uint8Array),
  },
  // protocol 2 writes bytes as _codecs.encode(str, 'latin1'): a pure conversion
  '_codecs.encode': {
    call: (args, file) => {
      const enc = args.length > 1 ? asString(args[1], file, 'encoding') : 'utf-8';
      const s = asString(args[0], file, '_codecs.encode');
      if (enc === 'latin1' || enc === 'latin-1') return new PyBytes(Uint8Array.from(s, (c) => c.charCodeAt(0) & 0xff));
      return new PyBytes(new TextEncoder().encode(s));
    },
  },
  'builtins.bytearray': { call: (args, file) => new PyBytes(args.length ? bytesOf(args[0], file, 'bytearray') : new Uint8Array(0)) },
  'builtins.bytes': { call: (args, file) => new PyBytes(args.length ? bytesOf(args[0], file, 'bytes') : new Uint8Array(0)) },
  'collections.OrderedDict': ordered,
};

/** Reads one pickle from `src` (a .pkl/.pkl3 file or a member of a .pt zip). */
export async function unpickle(src: ByteSource, opts: UnpickleOptions = {}): Promise<PyValue> {
  return new Unpickler(new SourceReader(src), opts, src).load();
}

export class Unpickler {
  private readonly file: string;
  private readonly stack: StackItem[] = [];
  private readonly memo = new Map<number, StackItem>();
  private readonly globals: Record<string, GlobalImpl>;
  private nextBuffer = 0;
  constructor(
    private readonly r: SequentialReader,
    private readonly opts: UnpickleOptions = {},
    private readonly source?: ByteSource,
  ) {
    this.file = opts.file ?? (source ? sourceName(source) : r.name);
    this.globals = { ...BASE_GLOBALS, ...opts.extraGlobals };
  }

  private err(msg: string, expected?: string): FormatError {
    return new FormatError(this.file, `${msg} at byte ${this.r.position}`, { field: 'pickle', expected });
  }

  private pop(): StackItem {
    if (!this.stack.length) throw this.err('pickle stack underflow');
    return this.stack.pop()!;
  }
  private popValue(): PyValue {
    const v = this.pop();
    if (v === MARK || v instanceof GlobalRef) throw this.err('unexpected mark or class on the stack');
    return v;
  }
  private popMark(): PyValue[] {
    const i = this.stack.lastIndexOf(MARK);
    if (i < 0) throw this.err('pickle MARK missing');
    const items = this.stack.splice(i + 1) as PyValue[];
    this.stack.pop();
    return items;
  }
  private top(): StackItem {
    if (!this.stack.length) throw this.err('pickle stack underflow');
    return this.stack[this.stack.length - 1];
  }

  private async u8(): Promise<number> {
    return (await this.r.take(1, 'pickle opcode argument'))[0];
  }
  private async uint(n: 2 | 4): Promise<number> {
    const b = await this.r.take(n, 'pickle length');
    const dv = new DataView(b.buffer, b.byteOffset, n);
    return n === 2 ? dv.getUint16(0, true) : dv.getUint32(0, true);
  }
  private async u64(): Promise<number> {
    const b = await this.r.take(8, 'pickle length');
    const v = new DataView(b.buffer, b.byteOffset, 8).getBigUint64(0, true);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw this.err('length too large');
    return Number(v);
  }
  private async line(): Promise<string> {
    let s = '';
    for (;;) {
      const c = await this.u8();
      if (c === 10) return s;
      s += String.fromCharCode(c);
    }
  }
  private async bytes(n: number): Promise<Bytes> {
    const lazy = this.opts.lazyBytes;
    if (lazy !== undefined && n > lazy && this.source && this.r instanceof SourceReader) {
      const offset = this.r.position;
      await this.r.skip(n, 'pickle bytes');
      return { lazy: true, source: this.source, offset, length: n };
    }
    return (await this.r.take(n, 'pickle bytes')).slice();
  }
  private async utf8(n: number): Promise<string> {
    return new TextDecoder('utf-8').decode(await this.r.take(n, 'pickle string'));
  }

  private global(module: string, name: string): GlobalRef | Opaque {
    const full = `${module}.${name}`.replace(/^__builtin__\./, 'builtins.');
    const impl = this.globals[full];
    if (!impl) throw new DisallowedPickleError(this.file, full);
    if (!impl.call && !impl.build) return new Opaque(full);
    return new GlobalRef(full, impl);
  }

  private callGlobal(f: StackItem, args: PyValue): PyValue {
    if (!(f instanceof GlobalRef) || !f.impl.call) {
      const name = f instanceof GlobalRef || f instanceof Opaque ? f.name : typeof f;
      throw new DisallowedPickleError(this.file, `a call of ${name}`);
    }
    if (!Array.isArray(args)) throw this.err('REDUCE arguments are not a tuple');
    const out = f.impl.call(args as PyTuple, this.file);
    if (f.impl.build && out !== null && typeof out === 'object') builders.set(out as object, f.impl);
    return out;
  }

  async load(): Promise<PyValue> {
    const r = this.r;
    for (;;) {
      const op = (await r.take(1, 'pickle opcode'))[0];
      switch (op) {
        case 0x80: // PROTO
          if ((await this.u8()) > 5) throw this.err('pickle protocol newer than 5');
          break;
        case 0x95: // FRAME: framing is only a buffering hint
          await r.take(8, 'frame length');
          break;
        case 0x2e: { // STOP
          const v = this.popValue();
          return v;
        }
        case 0x28: this.stack.push(MARK); break; // MARK
        case 0x30: this.pop(); break; // POP
        case 0x31: this.popMark(); break; // POP_MARK
        case 0x32: this.stack.push(this.top()); break; // DUP
        case 0x4e: this.stack.push(null); break; // NONE
        case 0x88: this.stack.push(true); break;
        case 0x89: this.stack.push(false); break;
        case 0x4a: { // BININT
          const b = await r.take(4, 'int');
          this.stack.push(new DataView(b.buffer, b.byteOffset, 4).getInt32(0, true));
          break;
        }
        case 0x4b: this.stack.push(await this.u8()); break; // BININT1
        case 0x4d: this.stack.push(await this.uint(2)); break; // BININT2
        case 0x8a: // LONG1
        case 0x8b: { // LONG4
          const n = op === 0x8a ? await this.u8() : await this.uint(4);
          this.stack.push(decodeLong(await r.take(n, 'long')));
          break;
        }
        case 0x49: { // INT (text)
          const s = await this.line();
          this.stack.push(s === '01' ? true : s === '00' ? false : Number(s));
          break;
        }
        case 0x4c: { // LONG (text)
          const s = (await this.line()).replace(/L$/, '');
          const b = BigInt(s);
          this.stack.push(b >= BigInt(Number.MIN_SAFE_INTEGER) && b <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(b) : b);
          break;
        }
        case 0x46: this.stack.push(Number(await this.line())); break; // FLOAT (text)
        case 0x47: { // BINFLOAT (big-endian)
          const b = await r.take(8, 'float');
          this.stack.push(new DataView(b.buffer, b.byteOffset, 8).getFloat64(0, false));
          break;
        }
        case 0x58: this.stack.push(await this.utf8(await this.uint(4))); break; // BINUNICODE
        case 0x8c: this.stack.push(await this.utf8(await this.u8())); break; // SHORT_BINUNICODE
        case 0x8d: this.stack.push(await this.utf8(await this.u64())); break; // BINUNICODE8
        case 0x55: this.stack.push(latin1(await r.take(await this.u8(), 'string'))); break; // SHORT_BINSTRING
        case 0x54: this.stack.push(latin1(await r.take(await this.uint(4), 'string'))); break; // BINSTRING
        case 0x43: this.stack.push(new PyBytes(await this.bytes(await this.u8()))); break; // SHORT_BINBYTES
        case 0x42: this.stack.push(new PyBytes(await this.bytes(await this.uint(4)))); break; // BINBYTES
        case 0x8e: // BINBYTES8
        case 0x96: // BYTEARRAY8
          this.stack.push(new PyBytes(await this.bytes(await this.u64())));
          break;
        case 0x97: { // NEXT_BUFFER
          const bufs = this.opts.buffers;
          if (!bufs || this.nextBuffer >= bufs.length) throw this.err('pickle needs an out-of-band buffer that was not supplied', `${this.nextBuffer + 1} buffers`);
          this.stack.push(new PyBytes(bufs[this.nextBuffer++]));
          break;
        }
        case 0x98: break; // READONLY_BUFFER: no-op for us
        case 0x5d: this.stack.push([]); break; // EMPTY_LIST
        case 0x6c: this.stack.push(this.popMark()); break; // LIST
        case 0x61: { // APPEND
          const v = this.popValue();
          const l = this.top();
          if (!Array.isArray(l) || Object.isFrozen(l)) throw this.err('APPEND to a non-list');
          (l as PyValue[]).push(v);
          break;
        }
        case 0x65: { // APPENDS
          const items = this.popMark();
          const l = this.top();
          if (!Array.isArray(l) || Object.isFrozen(l)) throw this.err('APPENDS to a non-list');
          for (const v of items) (l as PyValue[]).push(v);
          break;
        }
        case 0x29: this.stack.push(tuple([])); break; // EMPTY_TUPLE
        case 0x74: this.stack.push(tuple(this.popMark())); break; // TUPLE
        case 0x85: this.stack.push(tuple([this.popValue()])); break;
        case 0x86: { const b = this.popValue(); const a = this.popValue(); this.stack.push(tuple([a, b])); break; }
        case 0x87: { const c = this.popValue(); const b = this.popValue(); const a = this.popValue(); this.stack.push(tuple([a, b, c])); break; }
        case 0x7d: this.stack.push(new Map()); break; // EMPTY_DICT
        case 0x64: { // DICT
          const items = this.popMark();
          const m = new Map<PyKey, PyValue>();
          for (let i = 0; i < items.length; i += 2) m.set(this.key(items[i]), items[i + 1]);
          this.stack.push(m);
          break;
        }
        case 0x73: { // SETITEM
          const v = this.popValue();
          const k = this.popValue();
          const d = this.top();
          if (!(d instanceof Map)) throw this.err('SETITEM on a non-dict');
          d.set(this.key(k), v);
          break;
        }
        case 0x75: { // SETITEMS
          const items = this.popMark();
          const d = this.top();
          if (!(d instanceof Map)) throw this.err('SETITEMS on a non-dict');
          for (let i = 0; i < items.length; i += 2) d.set(this.key(items[i]), items[i + 1]);
          break;
        }
        case 0x63: { // GLOBAL
          const module = await this.line();
          const name = await this.line();
          this.stack.push(this.global(module, name));
          break;
        }
        case 0x93: { // STACK_GLOBAL
          const name = this.popValue();
          const module = this.popValue();
          this.stack.push(this.global(String(module), String(name)));
          break;
        }
        case 0x52: { // REDUCE
          const args = this.popValue();
          const f = this.pop();
          this.stack.push(this.callGlobal(f, args));
          break;
        }
        case 0x81: { // NEWOBJ
          const args = this.popValue();
          const cls = this.pop();
          this.stack.push(this.callGlobal(cls, args));
          break;
        }
        case 0x92: { // NEWOBJ_EX
          this.popValue();
          const args = this.popValue();
          const cls = this.pop();
          this.stack.push(this.callGlobal(cls, args));
          break;
        }
        case 0x62: { // BUILD
          const state = this.popValue();
          const obj = this.popValue();
          const impl = obj !== null && typeof obj === 'object' ? builders.get(obj as object) : undefined;
          if (!impl?.build) {
            const what = obj instanceof Opaque ? obj.name : obj instanceof Map ? 'dict' : Array.isArray(obj) ? 'list' : typeof obj;
            throw new DisallowedPickleError(this.file, `state of ${what} (BUILD)`);
          }
          this.stack.push(impl.build(obj, state, this.file));
          break;
        }
        case 0x51: { // BINPERSID
          const pid = this.popValue();
          if (!this.opts.persistentLoad) throw new DisallowedPickleError(this.file, 'a persistent id (external object)');
          this.stack.push(this.opts.persistentLoad(pid));
          break;
        }
        case 0x71: this.memo.set(await this.u8(), this.top()); break; // BINPUT
        case 0x72: this.memo.set(await this.uint(4), this.top()); break; // LONG_BINPUT
        case 0x70: this.memo.set(Number(await this.line()), this.top()); break; // PUT
        case 0x94: this.memo.set(this.memo.size, this.top()); break; // MEMOIZE
        case 0x68: this.stack.push(this.memoGet(await this.u8())); break; // BINGET
        case 0x6a: this.stack.push(this.memoGet(await this.uint(4))); break; // LONG_BINGET
        case 0x67: this.stack.push(this.memoGet(Number(await this.line()))); break; // GET
        case 0x8f: this.stack.push([]); break; // EMPTY_SET -> list
        case 0x90: { // ADDITEMS
          const items = this.popMark();
          const s = this.top();
          if (!Array.isArray(s)) throw this.err('ADDITEMS on a non-set');
          s.push(...items);
          break;
        }
        case 0x91: this.stack.push(tuple(this.popMark())); break; // FROZENSET -> tuple
        default:
          throw this.err(`unsupported pickle opcode 0x${op.toString(16)}`, 'protocol 2-5 data opcodes');
      }
    }
  }

  private key(k: PyValue): PyKey {
    if (k === null || ['string', 'number', 'bigint', 'boolean'].includes(typeof k)) return k as PyKey;
    if (isTuple(k)) return JSON.stringify(k, (_, v) => (typeof v === 'bigint' ? v.toString() : v));
    throw this.err('unsupported dict key type', 'str, int, float, bool, None or tuple keys');
  }

  private memoGet(i: number): StackItem {
    if (!this.memo.has(i)) throw this.err(`memo entry ${i} missing`);
    return this.memo.get(i)!;
  }
}

// Objects made by an allowed global remember it, so that BUILD can only ever reach its own builder.
const builders = new WeakMap<object, GlobalImpl>();

function decodeLong(b: Uint8Array): number | bigint {
  if (b.byteLength === 0) return 0;
  let v = 0n;
  for (let i = b.byteLength - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
  if (b[b.byteLength - 1] & 0x80) v -= 1n << BigInt(8 * b.byteLength);
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

// ------------------------------------------------------------------ array helpers

/** Decodes `count` elements of `dtype` from `raw` into float64 (bool -> 0/1, int64 via Number). */
export function decodeElements(raw: Uint8Array, dtype: NpDtype, out: Float64Array | Float32Array, outOffset = 0): void {
  const n = raw.byteLength / dtype.itemsize;
  const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const le = dtype.littleEndian;
  const k = `${dtype.kind}${dtype.itemsize}`;
  switch (k) {
    case 'f4':
      if (le && raw.byteOffset % 4 === 0) out.set(new Float32Array(raw.buffer, raw.byteOffset, n), outOffset);
      else for (let i = 0; i < n; i++) out[outOffset + i] = dv.getFloat32(4 * i, le);
      return;
    case 'f8':
      if (le && raw.byteOffset % 8 === 0) out.set(new Float64Array(raw.buffer, raw.byteOffset, n), outOffset);
      else for (let i = 0; i < n; i++) out[outOffset + i] = dv.getFloat64(8 * i, le);
      return;
    case 'f2':
      for (let i = 0; i < n; i++) out[outOffset + i] = fromHalf(dv.getUint16(2 * i, le));
      return;
    case 'i1': for (let i = 0; i < n; i++) out[outOffset + i] = dv.getInt8(i); return;
    case 'u1': case 'b1': for (let i = 0; i < n; i++) out[outOffset + i] = raw[i]; return;
    case 'i2': for (let i = 0; i < n; i++) out[outOffset + i] = dv.getInt16(2 * i, le); return;
    case 'u2': for (let i = 0; i < n; i++) out[outOffset + i] = dv.getUint16(2 * i, le); return;
    case 'i4': for (let i = 0; i < n; i++) out[outOffset + i] = dv.getInt32(4 * i, le); return;
    case 'u4': for (let i = 0; i < n; i++) out[outOffset + i] = dv.getUint32(4 * i, le); return;
    case 'i8': for (let i = 0; i < n; i++) out[outOffset + i] = Number(dv.getBigInt64(8 * i, le)); return;
    case 'u8': for (let i = 0; i < n; i++) out[outOffset + i] = Number(dv.getBigUint64(8 * i, le)); return;
    default:
      throw new Error(`numpy dtype ${dtype.str} is not numeric`);
  }
}

async function materialise(b: Bytes): Promise<Uint8Array> {
  if (!isLazy(b)) return b;
  const out = await b.source.read(b.offset, b.length);
  if (out.byteLength !== b.length) throw new FormatError(sourceName(b.source), 'file ends inside an array', { field: 'ndarray data', expected: `${b.length} bytes at ${b.offset}` });
  return out;
}

/** Reorders Fortran-order values to C order. */
function fortranToC<T extends Float64Array | Float32Array>(src: T, shape: number[]): T {
  if (shape.length < 2) return src;
  const out = new (src.constructor as new (n: number) => T)(src.length);
  const nd = shape.length;
  const cStride = new Array<number>(nd);
  const fStride = new Array<number>(nd);
  cStride[nd - 1] = 1;
  for (let d = nd - 2; d >= 0; d--) cStride[d] = cStride[d + 1] * shape[d + 1];
  fStride[0] = 1;
  for (let d = 1; d < nd; d++) fStride[d] = fStride[d - 1] * shape[d - 1];
  const idx = new Array<number>(nd).fill(0);
  for (let c = 0; c < src.length; c++) {
    let f = 0;
    for (let d = 0; d < nd; d++) f += idx[d] * fStride[d];
    out[c] = src[f];
    for (let d = nd - 1; d >= 0; d--) {
      if (++idx[d] < shape[d]) break;
      idx[d] = 0;
    }
  }
  return out;
}

/** All elements as float64 in C order (reads a lazy array whole: use readRows for big ones). */
export async function ndarrayValues(a: NdArray): Promise<Float64Array> {
  const raw = await materialise(a.data);
  return ndarrayToFloat64(new NdArray(a.dtype, a.shape, a.fortranOrder, raw));
}

/** Synchronous version for in-memory arrays. */
export function ndarrayToFloat64(a: NdArray): Float64Array {
  if (isLazy(a.data)) throw new Error('ndarrayToFloat64: array is on disk; use ndarrayValues or readRows');
  const out = new Float64Array(a.size);
  decodeElements(a.data, a.dtype, out);
  return a.fortranOrder ? fortranToC(out, a.shape) : out;
}

/** String elements ('U' is UTF-32 with trailing NULs stripped, 'S' is bytes as latin1) in C order. */
export function ndarrayStrings(a: NdArray): string[] {
  if (isLazy(a.data)) throw new Error('ndarrayStrings: array is on disk');
  const { kind, itemsize, littleEndian } = a.dtype;
  if (kind !== 'U' && kind !== 'S') throw new Error(`not a string array (${a.dtype.str})`);
  const raw = a.data;
  const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const n = a.size;
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    let s = '';
    if (kind === 'U') {
      for (let c = 0; c < itemsize / 4; c++) {
        const cp = dv.getUint32(i * itemsize + 4 * c, littleEndian);
        if (cp === 0) break;
        s += String.fromCodePoint(cp);
      }
    } else {
      for (let c = 0; c < itemsize; c++) {
        const b = raw[i * itemsize + c];
        if (b === 0) break;
        s += String.fromCharCode(b);
      }
    }
    out.push(s);
  }
  if (a.fortranOrder && a.shape.length > 1) {
    const idx = fortranToC(Float64Array.from(out, (_, i) => i), a.shape);
    return Array.from(idx, (i) => out[i]);
  }
  return out;
}

/**
 * Rows [start, start + count) of a C-order array whose first axis is the row axis, as float32.
 * Reads only those rows from disk when the array is lazy.
 */
export async function readRows(a: NdArray, start: number, count: number, out?: Float32Array): Promise<Float32Array> {
  if (a.fortranOrder && a.shape.length > 1) throw new Error('readRows: Fortran-order array; rows are not contiguous');
  const rowLen = a.size / (a.shape[0] || 1);
  const rowBytes = rowLen * a.dtype.itemsize;
  const dst = out ?? new Float32Array(count * rowLen);
  let raw: Uint8Array;
  if (isLazy(a.data)) {
    raw = await a.data.source.read(a.data.offset + start * rowBytes, count * rowBytes);
    if (raw.byteLength !== count * rowBytes) throw new FormatError(sourceName(a.data.source), 'file ends inside an array', { field: 'ndarray data', expected: `${count * rowBytes} bytes` });
  } else raw = a.data.subarray(start * rowBytes, (start + count) * rowBytes);
  // a fresh copy keeps typed-array views aligned
  decodeElements(raw.byteOffset % 8 === 0 ? raw : raw.slice(), a.dtype, dst);
  return dst;
}

// ------------------------------------------------------------------ convenient access

export function isDict(v: unknown): v is Map<PyKey, PyValue> {
  return v instanceof Map;
}

/** dict[key] or a FormatError naming the file and the key. */
export function dictGet(d: PyValue, key: string, file: string): PyValue {
  if (!(d instanceof Map)) throw new FormatError(file, 'expected a dict at the top of the pickle', { field: key, expected: 'dict' });
  if (!d.has(key)) throw new FormatError(file, `missing key "${key}"`, { field: key, expected: `a "${key}" entry; found ${[...d.keys()].map(String).join(', ')}` });
  return d.get(key)!;
}

/** A list/tuple of strings or a numpy string array, as string[]. */
export function asStringList(v: PyValue, file: string, field: string): string[] {
  if (v instanceof NdArray && (v.dtype.kind === 'U' || v.dtype.kind === 'S')) return ndarrayStrings(v);
  if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v as string[];
  throw new FormatError(file, 'not a list of strings', { field, expected: 'a list or numpy array of strings' });
}
