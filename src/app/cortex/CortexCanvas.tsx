// The three.js view of both hemispheres: one mesh per hemisphere for the chosen shape, vertex
// colours from the overlay, ROI outlines painted on the vertices with their names as labels,
// OrbitControls, and picking (hover shows the voxel, click selects an ROI, a brush paints a
// region, a blob tool picks a centre). Lighting: a soft hemisphere light plus a head-light that
// follows the camera, so the folds read on a projector from any angle.
import { useEffect, useLayoutEffect, useRef } from 'react';
import * as THREE from 'three';
import { OrbitControls } from 'three/examples/jsm/controls/OrbitControls.js';
import type { CanvasTool, CortexCamera, CortexShape } from '../../state/cortexStore.ts';
import type { HemiGeometry, RoiInfo } from '../../core/cortex/protocol.ts';
import { isoContour, smoothMaskField } from '../../core/cortex/mesh.ts';

export type { CanvasTool };

export interface SurfaceHit {
  hemi: number;
  vertex: number;
  /** Screen position for a tooltip (CSS pixels within the canvas). */
  x: number;
  y: number;
}

export interface CortexCanvasProps {
  geometry: HemiGeometry[];
  shape: CortexShape;
  /** RGB (0..1) per vertex per hemisphere. */
  colors: Float32Array[] | null;
  rois: RoiInfo[];
  selectedRoi: string | null;
  camera: CortexCamera | null;
  tool: CanvasTool;
  brushRadiusMm: number;
  onHover(hit: SurfaceHit | null): void;
  onClick(hit: SurfaceHit): void;
  /** A finished brush stroke: the vertices under the pointer while the button was down. */
  onStroke(hemi: number, vertices: number[]): void;
  onCamera(c: CortexCamera): void;
}

interface SceneState {
  renderer: THREE.WebGLRenderer;
  scene: THREE.Scene;
  camera: THREE.PerspectiveCamera;
  controls: OrbitControls;
  meshes: THREE.Mesh[];
  outlines: THREE.Group;
  labels: HTMLDivElement;
  raf: number;
  dirty: boolean;
  /** False while new materials' shaders compile off the main thread (compileAsync): nothing is drawn. */
  compiled: boolean;
  /** Counts compiles started: only the latest one's end lets drawing resume. */
  compiles: number;
  /** Whether the ROI outlines' line shader was compiled for this renderer. */
  linesCompiled: boolean;
}

/**
 * Compiles the scene's shader programs without blocking the page: three.js would otherwise link
 * them synchronously on the first render, a main-thread stall of hundreds of ms under a software
 * GPU (SwiftShader). Rendering waits for it (the `compiled` flag).
 */
function compileThenDraw(s: SceneState): void {
  s.compiled = false;
  const mine = ++s.compiles;
  s.renderer
    .compileAsync(s.scene, s.camera)
    .catch(() => undefined) // a failed compile shows on the first render, as before
    .then(() => {
      if (mine !== s.compiles) return;
      s.compiled = true;
      s.dirty = true;
    });
}

function shapeOf(g: HemiGeometry, shape: CortexShape): Float32Array {
  return g.shapes[shape] ?? g.shapes.inflated ?? g.shapes.folded!;
}

export function CortexCanvas(props: CortexCanvasProps) {
  const host = useRef<HTMLDivElement>(null);
  const st = useRef<SceneState | null>(null);
  // The scene's event handlers (set up once) read the latest props from here; synced after each
  // render, before the effects below run, never during render.
  const propsRef = useRef(props);
  useLayoutEffect(() => {
    propsRef.current = props;
  });
  const { geometry, shape, colors, rois, selectedRoi } = props;

  // Scene, renderer, controls: once.
  useEffect(() => {
    const el = host.current!;
    const renderer = new THREE.WebGLRenderer({ antialias: true });
    renderer.setPixelRatio(Math.min(window.devicePixelRatio, 2));
    renderer.setClearColor(0x0b0f15, 1);
    renderer.outputColorSpace = THREE.SRGBColorSpace;
    el.appendChild(renderer.domElement);
    renderer.domElement.dataset.testid = 'cortex-canvas';
    const scene = new THREE.Scene();
    const camera = new THREE.PerspectiveCamera(35, 1, 1, 5000);
    scene.add(new THREE.HemisphereLight(0xdfe8ff, 0x30343c, 1.4));
    const head = new THREE.DirectionalLight(0xffffff, 1.6);
    head.position.set(0, 0, 1);
    camera.add(head);
    scene.add(camera);
    const controls = new OrbitControls(camera, renderer.domElement);
    controls.enableDamping = true;
    controls.dampingFactor = 0.12;
    const labels = document.createElement('div');
    labels.className = 'cortex__labels';
    el.appendChild(labels);
    const outlines = new THREE.Group();
    scene.add(outlines);
    const s: SceneState = { renderer, scene, camera, controls, meshes: [], outlines, labels, raf: 0, dirty: true, compiled: false, compiles: 0, linesCompiled: false };
    st.current = s;

    let camTimer = 0;
    controls.addEventListener('change', () => {
      s.dirty = true;
      window.clearTimeout(camTimer);
      camTimer = window.setTimeout(() => {
        const p = camera.position;
        const t = controls.target;
        propsRef.current.onCamera({ position: [p.x, p.y, p.z], target: [t.x, t.y, t.z] });
      }, 400);
    });

    let size = '';
    const resize = () => {
      const w = el.clientWidth || 600;
      const h = el.clientHeight || 420;
      // Resizing reallocates the drawing buffer: only when the size really changed.
      if (`${w}x${h}` === size) return;
      size = `${w}x${h}`;
      renderer.setSize(w, h, false);
      renderer.domElement.style.width = `${w}px`;
      renderer.domElement.style.height = `${h}px`;
      camera.aspect = w / h;
      camera.updateProjectionMatrix();
      s.dirty = true;
    };
    const ro = new ResizeObserver(resize);
    ro.observe(el);
    resize();

    const loop = () => {
      s.raf = requestAnimationFrame(loop);
      const moved = controls.update();
      if (!s.compiled || (!s.dirty && !moved)) return;
      s.dirty = false;
      renderer.render(scene, camera);
      placeLabels(s, propsRef.current);
    };
    loop();

    // Picking
    const ray = new THREE.Raycaster();
    const hitAt = (ev: PointerEvent): SurfaceHit | null => {
      const r = renderer.domElement.getBoundingClientRect();
      const ndc = new THREE.Vector2(((ev.clientX - r.left) / r.width) * 2 - 1, -((ev.clientY - r.top) / r.height) * 2 + 1);
      ray.setFromCamera(ndc, camera);
      const hits = ray.intersectObjects(s.meshes, false);
      const h = hits[0];
      if (!h || !h.face) return null;
      const mesh = h.object as THREE.Mesh;
      const pos = mesh.geometry.getAttribute('position') as THREE.BufferAttribute;
      const local = mesh.worldToLocal(h.point.clone());
      let best = h.face.a;
      let bd = Infinity;
      for (const v of [h.face.a, h.face.b, h.face.c]) {
        const d = local.distanceToSquared(new THREE.Vector3(pos.getX(v), pos.getY(v), pos.getZ(v)));
        if (d < bd) {
          bd = d;
          best = v;
        }
      }
      return { hemi: mesh.userData.hemi as number, vertex: best, x: ev.clientX - r.left, y: ev.clientY - r.top };
    };
    let stroke: { hemi: number; vertices: Set<number> } | null = null;
    let down: { x: number; y: number } | null = null;
    const onMove = (ev: PointerEvent) => {
      const hit = hitAt(ev);
      if (stroke && hit && hit.hemi === stroke.hemi) {
        stroke.vertices.add(hit.vertex);
        paintStrokePreview(s, hit.hemi, hit.vertex, propsRef.current);
      }
      propsRef.current.onHover(hit);
    };
    const onDown = (ev: PointerEvent) => {
      down = { x: ev.clientX, y: ev.clientY };
      if (propsRef.current.tool !== 'brush' || ev.button !== 0) return;
      const hit = hitAt(ev);
      if (!hit) return;
      controls.enabled = false;
      stroke = { hemi: hit.hemi, vertices: new Set([hit.vertex]) };
      paintStrokePreview(s, hit.hemi, hit.vertex, propsRef.current);
    };
    const onUp = (ev: PointerEvent) => {
      if (stroke) {
        const { hemi, vertices } = stroke;
        stroke = null;
        controls.enabled = true;
        propsRef.current.onStroke(hemi, [...vertices]);
        return;
      }
      // A click (not the end of an orbit drag).
      if (down && Math.hypot(ev.clientX - down.x, ev.clientY - down.y) < 5) {
        const hit = hitAt(ev);
        if (hit) propsRef.current.onClick(hit);
      }
      down = null;
    };
    const onLeave = () => propsRef.current.onHover(null);
    const dom = renderer.domElement;
    dom.addEventListener('pointermove', onMove);
    dom.addEventListener('pointerdown', onDown);
    dom.addEventListener('pointerup', onUp);
    dom.addEventListener('pointerleave', onLeave);
    return () => {
      cancelAnimationFrame(s.raf);
      ro.disconnect();
      controls.dispose();
      dom.removeEventListener('pointermove', onMove);
      dom.removeEventListener('pointerdown', onDown);
      dom.removeEventListener('pointerup', onUp);
      dom.removeEventListener('pointerleave', onLeave);
      for (const m of s.meshes) m.geometry.dispose();
      renderer.dispose();
      el.removeChild(dom);
      el.removeChild(labels);
      st.current = null;
    };
  }, []);

  // Meshes for the geometry and shape.
  useEffect(() => {
    const s = st.current!;
    for (const m of s.meshes) {
      s.scene.remove(m);
      m.geometry.dispose();
    }
    if (!geometry.length) {
      // Another subject is loading: nothing to show (the canvas and its context stay).
      s.meshes = [];
      s.dirty = true;
      return;
    }
    // Polygon offset pushes the surface back so ROI contour lines on it never z-fight.
    const material = new THREE.MeshLambertMaterial({ vertexColors: true, side: THREE.DoubleSide, polygonOffset: true, polygonOffsetFactor: 1, polygonOffsetUnits: 1 });
    s.meshes = geometry.map((g, h) => {
      const geo = new THREE.BufferGeometry();
      geo.setAttribute('position', new THREE.BufferAttribute(shapeOf(g, shape).slice(), 3));
      geo.setAttribute('color', new THREE.BufferAttribute(new Float32Array(g.vertexCount * 3).fill(0.42), 3));
      geo.setIndex(new THREE.BufferAttribute(g.faces instanceof Uint32Array ? g.faces : Uint32Array.from(g.faces), 1));
      geo.computeVertexNormals();
      const mesh = new THREE.Mesh(geo, material);
      mesh.userData.hemi = h;
      s.scene.add(mesh);
      return mesh;
    });
    // Frame the hemispheres unless the URL gave a camera.
    const box = new THREE.Box3();
    for (const m of s.meshes) box.expandByObject(m);
    const centre = box.getCenter(new THREE.Vector3());
    const size = box.getSize(new THREE.Vector3()).length();
    // Distance at which the bounding sphere fits both the vertical and the horizontal field of view.
    const vfov = (s.camera.fov * Math.PI) / 180;
    const hfov = 2 * Math.atan(Math.tan(vfov / 2) * s.camera.aspect);
    const dist = ((size / 2) / Math.sin(Math.min(vfov, hfov) / 2)) * 0.9;
    const cam = propsRef.current.camera;
    if (cam) {
      s.camera.position.set(...cam.position);
      s.controls.target.set(...cam.target);
    } else if (shape === 'flat') {
      s.camera.up.set(0, 1, 0);
      s.camera.position.set(centre.x, centre.y, centre.z + dist);
      s.controls.target.copy(centre);
    } else {
      // From behind and a little above: the occipital poles face the viewer.
      s.camera.up.set(0, 0, 1);
      const dir = new THREE.Vector3(0, -1, 0.35).normalize();
      s.camera.position.copy(centre).addScaledVector(dir, dist);
      s.controls.target.copy(centre);
    }
    s.camera.near = size / 100;
    s.camera.far = size * 20;
    s.camera.updateProjectionMatrix();
    s.controls.update();
    s.dirty = true;
    applyColors(s, propsRef.current);
    compileThenDraw(s);
  }, [geometry, shape]);

  // Colours.
  useEffect(() => {
    const s = st.current;
    if (s) applyColors(s, propsRef.current);
  }, [colors, rois, selectedRoi]);

  // ROI contours (after the meshes of this shape exist).
  useEffect(() => {
    const s = st.current;
    if (s) buildOutlines(s, propsRef.current);
  }, [rois, selectedRoi, geometry, shape]);

  return <div className="cortex__canvas" ref={host} data-testid="cortex-view" />;
}

function applyColors(s: SceneState, p: CortexCanvasProps): void {
  s.meshes.forEach((m, h) => {
    const attr = m.geometry.getAttribute('color') as THREE.BufferAttribute;
    const arr = attr.array as Float32Array;
    const src = p.colors?.[h];
    if (src && src.length === arr.length) arr.set(src);
    else arr.fill(0.42);
    // The selected ROI is lightened a little so it reads as "picked" under any overlay.
    const sel = p.rois.find((r) => r.name === p.selectedRoi);
    const selMask = sel?.mask[h];
    if (selMask && selMask.length * 3 === arr.length) {
      for (let v = 0; v < selMask.length; v++) {
        if (!selMask[v]) continue;
        for (let c = 0; c < 3; c++) arr[3 * v + c] = arr[3 * v + c] * 0.8 + 0.2;
      }
    }
    attr.needsUpdate = true;
  });
  s.dirty = true;
  renderLabels(s, p);
}

function buildOutlines(s: SceneState, p: CortexCanvasProps): void {
  for (const child of [...s.outlines.children]) {
    s.outlines.remove(child);
    (child as THREE.LineSegments).geometry.dispose();
  }
  s.meshes.forEach((mesh, h) => {
    const geo = mesh.geometry;
    const pos = geo.getAttribute('position') as THREE.BufferAttribute;
    const nor = geo.getAttribute('normal') as THREE.BufferAttribute;
    const index = geo.getIndex()!.array as ArrayLike<number>;
    for (const r of p.rois) {
      const mask = r.mask[h];
      if (!mask || mask.length !== pos.count) continue;
      // The 0.5 level of the smoothed mask, not the binary mask's edge midpoints: a smooth outline
      // instead of a staircase along the mesh's triangles.
      const { ends, t } = isoContour(index, smoothMaskField(index, mask), 0.5);
      if (!t.length) continue;
      const xyz = new Float32Array(t.length * 3);
      const selected = r.name === p.selectedRoi;
      const lift = selected ? 0.5 : 0.25; // mm above the surface, along the normal; the selected ROI on top
      for (let k = 0; k < t.length; k++) {
        const a = ends[2 * k];
        const b = ends[2 * k + 1];
        const u = t[k];
        const o = k * 3;
        xyz[o] = pos.getX(a) + u * (pos.getX(b) - pos.getX(a)) + lift * (nor.getX(a) + u * (nor.getX(b) - nor.getX(a)));
        xyz[o + 1] = pos.getY(a) + u * (pos.getY(b) - pos.getY(a)) + lift * (nor.getY(a) + u * (nor.getY(b) - nor.getY(a)));
        xyz[o + 2] = pos.getZ(a) + u * (pos.getZ(b) - pos.getZ(a)) + lift * (nor.getZ(a) + u * (nor.getZ(b) - nor.getZ(a)));
      }
      const lg = new THREE.BufferGeometry();
      lg.setAttribute('position', new THREE.BufferAttribute(xyz, 3));
      // All opaque, so renderOrder alone decides that the selected outline is drawn last (on top).
      const line = new THREE.LineSegments(lg, new THREE.LineBasicMaterial({ color: selected ? 0xffffff : new THREE.Color(r.color) }));
      line.renderOrder = selected ? 2 : 1;
      s.outlines.add(line);
    }
  });
  s.dirty = true;
  if (!s.linesCompiled && s.outlines.children.length) {
    // The first outline brings the line shader: compile it off the main thread too.
    s.linesCompiled = true;
    compileThenDraw(s);
  }
}

function paintStrokePreview(s: SceneState, hemi: number, vertex: number, p: CortexCanvasProps): void {
  const m = s.meshes[hemi];
  if (!m) return;
  const pos = m.geometry.getAttribute('position') as THREE.BufferAttribute;
  const col = m.geometry.getAttribute('color') as THREE.BufferAttribute;
  const arr = col.array as Float32Array;
  const cx = pos.getX(vertex);
  const cy = pos.getY(vertex);
  const cz = pos.getZ(vertex);
  const r2 = p.brushRadiusMm * p.brushRadiusMm;
  for (let v = 0; v < pos.count; v++) {
    const d = (pos.getX(v) - cx) ** 2 + (pos.getY(v) - cy) ** 2 + (pos.getZ(v) - cz) ** 2;
    if (d <= r2) {
      arr[3 * v] = 0.35;
      arr[3 * v + 1] = 0.95;
      arr[3 * v + 2] = 0.75;
    }
  }
  col.needsUpdate = true;
  s.dirty = true;
}

function renderLabels(s: SceneState, p: CortexCanvasProps): void {
  s.labels.replaceChildren();
  for (const r of p.rois) {
    r.labelVertex.forEach((v, h) => {
      if (v < 0 || !s.meshes[h]) return;
      const div = document.createElement('div');
      div.className = `cortex__label ${r.name === p.selectedRoi ? 'is-selected' : ''}`;
      div.textContent = r.name;
      div.style.borderColor = r.color;
      div.dataset.hemi = String(h);
      div.dataset.vertex = String(v);
      s.labels.appendChild(div);
    });
  }
  placeLabels(s, p);
}

const tmp = new THREE.Vector3();
function placeLabels(s: SceneState, _p: CortexCanvasProps): void {
  const w = s.renderer.domElement.clientWidth;
  const h = s.renderer.domElement.clientHeight;
  for (const el of Array.from(s.labels.children) as HTMLDivElement[]) {
    const mesh = s.meshes[Number(el.dataset.hemi)];
    const pos = mesh.geometry.getAttribute('position') as THREE.BufferAttribute;
    const v = Number(el.dataset.vertex);
    tmp.set(pos.getX(v), pos.getY(v), pos.getZ(v)).applyMatrix4(mesh.matrixWorld).project(s.camera);
    const visible = tmp.z < 1 && Math.abs(tmp.x) < 1.05 && Math.abs(tmp.y) < 1.05;
    el.style.display = visible ? '' : 'none';
    el.style.transform = `translate(${((tmp.x + 1) / 2) * w}px, ${((1 - tmp.y) / 2) * h}px) translate(-50%, -50%)`;
  }
}
