// A uPlot wrapper that resizes with its container. uPlot is loaded lazily (its own chunk), so
// pages without charts do not download it.
import { useEffect, useRef, useState } from 'preact/hooks';
import type uPlot from 'uplot';
import { ErrorBox } from './ErrorBox';
import { t } from '../i18n';

export type ChartOptions = Omit<uPlot.Options, 'width' | 'height'>;

let uplotPromise: Promise<typeof uPlot> | null = null;
let loadedUPlot: typeof uPlot | null = null;
export function loadUPlot(): Promise<typeof uPlot> {
  if (!uplotPromise) {
    uplotPromise = Promise.all([import('uplot'), import('uplot/dist/uPlot.min.css')]).then(([m]) => (loadedUPlot = m.default));
  }
  return uplotPromise;
}
/** The uPlot constructor once loaded (always, inside options callbacks: charts exist only after loading). */
export function getUPlot(): typeof uPlot {
  if (!loadedUPlot) throw new Error('uPlot not loaded');
  return loadedUPlot;
}

export interface ChartProps {
  options: ChartOptions;
  data: uPlot.AlignedData;
  height?: number;
  /** Accessible description of what the chart shows. */
  label: string;
}

export function Chart({ options, data, height = 300, label }: ChartProps) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const [err, setErr] = useState<unknown>(null);
  const [ready, setReady] = useState(false);

  // (re)create when options change
  useEffect(() => {
    let cancelled = false;
    let ro: ResizeObserver | null = null;
    loadUPlot()
      .then((UPlot) => {
        if (cancelled || !box.current) return;
        const el = box.current;
        const width = Math.max(200, el.clientWidth);
        plot.current = new UPlot({ ...options, width, height } as uPlot.Options, data, el);
        setReady(true);
        // (its first call reports the width the chart was just drawn at: no second drawing then)
        ro = new ResizeObserver(() => {
          if (plot.current && el.clientWidth > 0 && el.clientWidth !== plot.current.width) plot.current.setSize({ width: el.clientWidth, height });
        });
        ro.observe(el);
      })
      .catch((e) => setErr(e));
    return () => {
      cancelled = true;
      if (ro) ro.disconnect();
      if (plot.current) plot.current.destroy();
      plot.current = null;
    };
  }, [options, height]);

  // new data, same options: just swap the data
  useEffect(() => {
    if (plot.current) plot.current.setData(data);
  }, [data]);

  return (
    <figure class="chart" aria-label={label} role="img">
      {err ? <ErrorBox error={err} /> : null}
      {!ready && !err && <span class="muted">{t('common.loading')}</span>}
      <div ref={box} class="chart-box" aria-hidden="true" />
      <figcaption class="sr-only">{label}</figcaption>
    </figure>
  );
}
