// Issue 17: every screen uses the page's one themed control set (src/app/common/controls.tsx), so no
// native white button, select, number field, file picker or progress strip appears on the dark page.
// A raw <button>/<select>/<input>/<textarea>/<progress> written in a screen fails here; the controls
// themselves render with the classes styles.css themes.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { createElement } from 'react';
import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import { Button, Checkbox, ColorInput, FilePicker, NumberInput, ProgressBar, Segmented, Select, Slider, Tabs, TextInput } from '../../../src/app/common/controls.tsx';

const APP = join(import.meta.dirname, '../../../src/app');
const CONTROLS = 'common/controls.tsx';

function tsxFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? tsxFiles(join(dir, e.name)) : e.name.endsWith('.tsx') ? [join(dir, e.name)] : []));
}

describe('themed controls', () => {
  it('no screen writes a native form control itself', () => {
    const files = tsxFiles(APP);
    expect(files.length).toBeGreaterThan(20);
    const raw: string[] = [];
    for (const f of files) {
      const rel = relative(APP, f);
      if (rel === CONTROLS) continue;
      readFileSync(f, 'utf8')
        .split('\n')
        .forEach((line, i) => {
          if (/<(button|select|input|textarea|progress)\b/.test(line)) raw.push(`${rel}:${i + 1}: ${line.trim()}`);
        });
    }
    expect(raw).toEqual([]);
  });

  it('render with the theme classes', () => {
    const html = (el: Parameters<typeof renderToStaticMarkup>[0]) => renderToStaticMarkup(el);
    const noop = () => undefined;
    expect(html(createElement(Button, null, 'Go'))).toMatch(/<button type="button" class="btn">Go<\/button>/);
    expect(html(createElement(Button, { kind: 'primary' }, 'Go'))).toContain('class="btn btn--primary"');
    expect(html(createElement(Button, { kind: 'tile', className: 'stim-tile' }, 'A'))).toContain('class="stim-tile"');
    expect(html(createElement(Select, null))).toContain('class="ctl ctl--select"');
    expect(html(createElement(NumberInput, { value: 3, onValue: noop }))).toContain('class="ctl ctl--number"');
    expect(html(createElement(Checkbox, null))).toContain('class="ctl ctl--check"');
    expect(html(createElement(TextInput, { onText: noop }))).toContain('class="ctl ctl--text"');
    expect(html(createElement(ColorInput, { onColor: noop }))).toContain('class="ctl ctl--color"');
    expect(html(createElement(Slider, { value: 1, onValue: noop }))).toContain('class="ctl-range"');
    const picker = html(createElement(FilePicker, { label: 'Open…', onFiles: noop }));
    expect(picker).toContain('class="btn"');
    expect(picker).toMatch(/<input[^>]*type="file"[^>]*hidden/);
    const bar = html(createElement(ProgressBar, { fraction: 0.5, label: 'prior 3/10' }));
    expect(bar).toContain('prior 3/10');
    expect(bar).toContain('50%');
    const seg = html(createElement(Segmented<string>, { label: 'Surface', value: 'flat', onChange: noop, options: [{ value: 'folded', label: 'folded' }, { value: 'flat', label: 'flat' }] }));
    expect(seg.match(/class="segmented__item[^"]*"/g)).toEqual(['class="segmented__item "', 'class="segmented__item is-active"']);
    const tabs = html(createElement(Tabs<string>, { tabs: [{ id: 'a', label: 'A' }, { id: 'b', label: 'B' }], value: 'b', onChange: noop }));
    expect(tabs).toContain('aria-selected="true" class="tabs__tab is-active"');
  });
});
