// What a screenshot shows at a glance, as checks the screen specs share: controls that still look
// like the browser's own, chart text cut by its SVG's box or smaller than 12 px on screen, images
// sticking out of their card, a page wider than the window.
import type { Locator, Page } from '@playwright/test';

/** Classes of the page's themed controls (src/app/common/controls.tsx) and of buttons drawn by their own class. */
const THEMED = ['btn', 'ctl', 'ctl-range', 'tabs__tab', 'segmented__item', 'aud-choice', 'stim-tile', 'chip', 'cortex__roi'];

/** Controls inside `root` that still look like the browser's own (light background, or none of our classes). */
export async function nativeLookingControls(root: Locator): Promise<string[]> {
  return root.evaluate((el, themed) => {
    const out: string[] = [];
    const lum = (c: string) => {
      const m = /rgba?\(([\d.]+), ([\d.]+), ([\d.]+)/.exec(c);
      return m ? (0.2126 * +m[1] + 0.7152 * +m[2] + 0.0722 * +m[3]) / 255 : 0;
    };
    for (const c of el.querySelectorAll<HTMLElement>('button, select, input, textarea, progress')) {
      const type = c.getAttribute('type') ?? '';
      if (c instanceof HTMLInputElement && type === 'file') {
        if (c.offsetParent !== null) out.push(`visible native file input ${c.outerHTML.slice(0, 80)}`);
        continue;
      }
      if (c.offsetParent === null) continue;
      const ours = themed.some((k) => c.classList.contains(k));
      if (!ours) {
        out.push(`${c.tagName.toLowerCase()}${type ? `[${type}]` : ''} "${(c.textContent ?? '').trim().slice(0, 30)}" has none of the themed classes`);
        continue;
      }
      if (type === 'checkbox' || type === 'range' || type === 'color' || c.classList.contains('is-active')) continue;
      const cs = getComputedStyle(c);
      // a light background (the native widget's) or a dark text colour on the dark page
      if (lum(cs.backgroundColor) > 0.5 || lum(cs.color) < 0.5) out.push(`${c.tagName.toLowerCase()} "${(c.textContent ?? '').trim().slice(0, 30)}" bg ${cs.backgroundColor} color ${cs.color}`);
    }
    return out;
  }, THEMED);
}

/** SVG text inside `root` that falls outside its <svg> (which clips it: a cut title or tick). */
export async function clippedSvgText(root: Locator): Promise<string[]> {
  return root.evaluate((el) => {
    const out: string[] = [];
    const svgs = el instanceof SVGSVGElement ? [el] : [...el.querySelectorAll<SVGSVGElement>('svg')];
    for (const s of svgs) {
      const box = s.getBoundingClientRect();
      for (const t of s.querySelectorAll<SVGTextElement>('text')) {
        const b = t.getBoundingClientRect();
        if (b.width > 0 && (b.left < box.left - 0.5 || b.right > box.right + 0.5 || b.top < box.top - 0.5 || b.bottom > box.bottom + 0.5)) out.push(t.textContent ?? '');
      }
    }
    return out;
  });
}

/** Chart text inside `root` drawn smaller than `min` px on screen (SVG text is scaled with its viewBox). */
export async function smallChartText(root: Locator, min = 12): Promise<string[]> {
  return root.evaluate((el, m) => {
    const out: string[] = [];
    for (const t of el.querySelectorAll<SVGTextElement>('svg text')) {
      if (!t.textContent?.trim() || (t as unknown as HTMLElement).getClientRects().length === 0) continue;
      const svg = t.ownerSVGElement!;
      const scale = svg.getScreenCTM()?.a ?? 1;
      const px = parseFloat(getComputedStyle(t).fontSize) * scale;
      if (px < m - 0.25) out.push(`"${t.textContent.slice(0, 20)}" ${px.toFixed(1)} px in ${svg.getAttribute('data-testid') ?? svg.getAttribute('class') ?? 'svg'}`);
    }
    return out;
  }, min);
}

/** How far the page is wider than the window (a horizontal scrollbar on a projector). */
export async function horizontalOverflow(page: Page): Promise<number> {
  return page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
}

/** Images and canvases that stick out of the card, figure or chart that holds them. */
export async function overflowingImages(root: Locator): Promise<string[]> {
  return root.evaluate((el) => {
    const out: string[] = [];
    for (const img of el.querySelectorAll<HTMLElement>('canvas, img, svg')) {
      const box = img.closest<HTMLElement>('.card, .eval-chart, .rc-result, .cortex__chart, .cortex__stage, .aud');
      if (!box || img.offsetParent === null) continue;
      const a = img.getBoundingClientRect();
      const b = box.getBoundingClientRect();
      if (a.right > b.right + 1 || a.left < b.left - 1) out.push(`${img.tagName.toLowerCase()}.${img.getAttribute('class') ?? ''} ${Math.round(a.left)}-${Math.round(a.right)} outside ${box.className} ${Math.round(b.left)}-${Math.round(b.right)}`);
    }
    return out;
  });
}
