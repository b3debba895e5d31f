// The content-box width of an element, kept current by a ResizeObserver. Charts draw their SVG with
// a viewBox as wide as this, so one viewBox unit is one CSS pixel and a 14-unit label is 14 px on
// screen whatever the card's width (a fixed 560-unit viewBox squeezed into a 330 px card drew its
// ticks at 8 px).
import { useCallback, useEffect, useRef, useState } from 'react';

/** [ref to attach, width in CSS px rounded down (null until measured)]. */
export function useContentWidth<T extends HTMLElement>(): [(el: T | null) => void, number | null] {
  const [width, setWidth] = useState<number | null>(null);
  const observer = useRef<ResizeObserver | null>(null);
  const ref = useCallback((el: T | null) => {
    observer.current?.disconnect();
    observer.current = null;
    if (!el) return;
    const ro = new ResizeObserver((entries) => {
      const w = Math.floor(entries[entries.length - 1].contentRect.width);
      if (w > 0) setWidth((old) => (old === w ? old : w));
    });
    ro.observe(el);
    observer.current = ro;
  }, []);
  useEffect(() => () => observer.current?.disconnect(), []);
  return [ref, width];
}
