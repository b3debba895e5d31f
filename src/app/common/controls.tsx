// The page's one set of form controls, themed like the Trial screen (dark panels, accent outline on
// focus): buttons, selects, number fields, checkboxes, a file/folder picker and a labelled progress
// bar. The browser's native widgets (light buttons, white selects, "Choose file" pickers) clashed with
// the dark theme on the Reconstruction and Evaluation screens; every screen uses these instead.
// Styles: the "controls" section of src/app/styles.css.
import { useEffect, useRef, type ButtonHTMLAttributes, type InputHTMLAttributes, type ReactNode, type SelectHTMLAttributes } from 'react';

/** `tile`: a button drawn entirely by its own class (a stimulus tile, a list row, a chip), not a .btn. */
type ButtonKind = 'default' | 'primary' | 'small' | 'tile';

export function Button(props: ButtonHTMLAttributes<HTMLButtonElement> & { kind?: ButtonKind }) {
  const { kind = 'default', className, type, ...rest } = props;
  const base = kind === 'tile' ? '' : kind === 'default' ? 'btn' : `btn btn--${kind}`;
  return <button type={type ?? 'button'} className={`${base} ${className ?? ''}`.trim()} {...rest} />;
}

export interface SegmentOption<T> {
  value: T;
  label: ReactNode;
  title?: string;
  disabled?: boolean;
  testid?: string;
}

/** One choice of a few (radio group): the pill row of the Trial screen; `column` stacks the items. */
export function Segmented<T extends string | number>(props: { label: string; options: SegmentOption<T>[]; value: T | null; onChange: (v: T) => void; column?: boolean; className?: string }) {
  return (
    <div className={`segmented ${props.column ? 'segmented--column' : ''} ${props.className ?? ''}`.trim()} role="radiogroup" aria-label={props.label}>
      {props.options.map((o) => (
        <button
          key={String(o.value)}
          type="button"
          role="radio"
          aria-checked={o.value === props.value}
          className={`segmented__item ${o.value === props.value ? 'is-active' : ''}`}
          disabled={o.disabled}
          title={o.title}
          onClick={() => props.onChange(o.value)}
          data-testid={o.testid}
        >
          {o.label}
        </button>
      ))}
    </div>
  );
}

/** A row of tabs (role tablist); the selected one is underlined in the accent colour. */
export function Tabs<T extends string>(props: { tabs: { id: T; label: ReactNode }[]; value: T; onChange: (id: T) => void }) {
  return (
    <div className="tabs" role="tablist">
      {props.tabs.map((t) => (
        <button key={t.id} type="button" role="tab" aria-selected={props.value === t.id} className={`tabs__tab ${props.value === t.id ? 'is-active' : ''}`} onClick={() => props.onChange(t.id)}>
          {t.label}
        </button>
      ))}
    </div>
  );
}

/** A range slider in the accent colour that hands back numbers. */
export function Slider(props: Omit<InputHTMLAttributes<HTMLInputElement>, 'type' | 'value' | 'onChange'> & { value: number; onValue: (v: number) => void }) {
  const { className, value, onValue, ...rest } = props;
  return <input type="range" className={`ctl-range ${className ?? ''}`.trim()} value={value} onChange={(e) => onValue(Number(e.currentTarget.value))} {...rest} />;
}

export function TextInput(props: Omit<InputHTMLAttributes<HTMLInputElement>, 'type' | 'onChange'> & { onText: (v: string) => void }) {
  const { className, onText, ...rest } = props;
  return <input type="text" className={`ctl ctl--text ${className ?? ''}`.trim()} onChange={(e) => onText(e.currentTarget.value)} {...rest} />;
}

/** A colour swatch that opens the system colour chooser. */
export function ColorInput(props: Omit<InputHTMLAttributes<HTMLInputElement>, 'type' | 'onChange'> & { onColor: (v: string) => void }) {
  const { className, onColor, ...rest } = props;
  return <input type="color" className={`ctl ctl--color ${className ?? ''}`.trim()} onChange={(e) => onColor(e.currentTarget.value)} {...rest} />;
}

export function Select(props: SelectHTMLAttributes<HTMLSelectElement>) {
  const { className, ...rest } = props;
  return <select className={`ctl ctl--select ${className ?? ''}`.trim()} {...rest} />;
}

/** A number input that hands back only finite numbers (an empty or half-typed field is ignored). */
export function NumberInput(props: Omit<InputHTMLAttributes<HTMLInputElement>, 'type' | 'value' | 'onChange'> & { value: number; onValue: (v: number) => void }) {
  const { className, value, onValue, ...rest } = props;
  return (
    <input
      type="number"
      className={`ctl ctl--number ${className ?? ''}`.trim()}
      value={value}
      onChange={(e) => {
        const v = Number(e.target.value);
        if (e.target.value !== '' && Number.isFinite(v)) onValue(v);
      }}
      {...rest}
    />
  );
}

export function Checkbox(props: Omit<InputHTMLAttributes<HTMLInputElement>, 'type'>) {
  const { className, ...rest } = props;
  return <input type="checkbox" className={`ctl ctl--check ${className ?? ''}`.trim()} {...rest} />;
}

/**
 * A themed button in place of the native "Choose file" widget: the real input is hidden and clicked
 * through. `folder` picks a whole folder (webkitdirectory, not in React's typings: set as attributes).
 */
export function FilePicker(props: { label: ReactNode; onFiles: (files: FileList) => void; accept?: string; multiple?: boolean; folder?: boolean; testid?: string; title?: string; chosen?: string | null }) {
  const input = useRef<HTMLInputElement>(null);
  const { folder } = props;
  useEffect(() => {
    const el = input.current;
    if (!el) return;
    if (folder) {
      el.setAttribute('webkitdirectory', '');
      el.setAttribute('directory', '');
    } else {
      el.removeAttribute('webkitdirectory');
      el.removeAttribute('directory');
    }
  }, [folder]);
  return (
    <span className="ctl-file">
      <Button onClick={() => input.current?.click()} title={props.title}>
        {props.label}
      </Button>
      {props.chosen ? <span className="ctl-file__name">{props.chosen}</span> : null}
      <input
        ref={input}
        type="file"
        hidden
        accept={props.accept}
        multiple={props.multiple || folder}
        data-testid={props.testid}
        onChange={(e) => {
          const list = e.currentTarget.files;
          if (list && list.length > 0) props.onFiles(list);
          e.currentTarget.value = ''; // choosing the same file again fires again
        }}
      />
    </span>
  );
}

/**
 * A progress bar that always says what runs and how far: the label (e.g. the stage) on the left,
 * the percent on the right, both readable on the dark track. `fraction` null = indeterminate.
 * The fill moves by transform (compositor only; the element is contained).
 */
export function ProgressBar(props: { fraction: number | null; label: ReactNode; testid?: string }) {
  const f = props.fraction === null ? null : Math.min(1, Math.max(0, props.fraction));
  const pct = f === null ? null : Math.round(f * 100);
  return (
    <div className="ctl-progress" role="progressbar" aria-valuenow={pct ?? undefined} aria-valuemin={0} aria-valuemax={100} data-testid={props.testid}>
      <div className={`ctl-progress__fill ${f === null ? 'ctl-progress__fill--indeterminate' : ''}`} style={f === null ? undefined : { transform: `scaleX(${f.toFixed(3)})` }} />
      <span className="ctl-progress__label">{props.label}</span>
      {pct !== null ? <span className="ctl-progress__pct">{pct}%</span> : null}
    </div>
  );
}
