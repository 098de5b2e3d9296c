/**
 * The report's charts: Vega-Lite specifications rendered to static SVG in Node (vega's headless view, no
 * browser, no canvas), so the HTML page needs no script and no network to show them.
 */
import { parse, View } from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

/** Past this many labels the 20 colours repeat, so the shape varies too: 20 colours × 7 shapes = 140 pairs. */
const coloursOnly = 20;
const shapes = ['circle', 'square', 'triangle-up', 'diamond', 'cross', 'triangle-down', 'triangle-right'];

const config = { font: 'system-ui, sans-serif', view: { stroke: '#ccc' }, axis: { labelFontSize: 11, titleFontSize: 12 } };

export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const view = new View(parse(compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

export function labelCountsChart(counts: readonly { label: string; rows: number }[]): TopLevelSpec {
  return {
    config,
    description: 'Feature rows per label',
    width: 480,
    height: { step: 14 },
    data: { values: counts.map((c) => ({ ...c })) },
    mark: { type: 'bar', color: '#4c78a8' },
    encoding: {
      y: { field: 'label', type: 'nominal', sort: '-x', title: 'label', axis: { labelLimit: 220 } },
      x: { field: 'rows', type: 'quantitative', title: 'feature rows' },
    },
  };
}

export interface VarianceCurve {
  /** Cumulative share of the variance explained by the first 1, 2, … components. */
  cumulative: readonly number[];
  /** Components kept. */
  kept: number;
}

export function cumulativeVarianceChart({ cumulative, kept }: VarianceCurve): TopLevelSpec {
  const values = cumulative.map((share, i) => ({ component: i + 1, share }));
  return {
    config,
    description: 'Cumulative share of variance explained by the first components',
    width: 480,
    height: 260,
    layer: [
      {
        data: { values },
        mark: { type: 'line', color: '#4c78a8', interpolate: 'step-after' },
        encoding: {
          x: { field: 'component', type: 'quantitative', title: 'number of components', scale: { domainMin: 1, nice: false } },
          y: {
            field: 'share',
            type: 'quantitative',
            title: 'cumulative share of variance',
            scale: { domain: [0, 1] },
            axis: { format: '%' },
          },
        },
      },
      {
        data: { values: [{ component: kept, share: cumulative[kept - 1] ?? 0 }] },
        mark: { type: 'rule', color: '#e45756', strokeDash: [4, 3] },
        encoding: { x: { field: 'component', type: 'quantitative' } },
      },
      {
        data: { values: [{ component: kept, share: cumulative[kept - 1] ?? 0, text: `${kept} kept` }] },
        mark: { type: 'text', align: 'left', dx: 5, dy: 12, color: '#e45756' },
        encoding: {
          x: { field: 'component', type: 'quantitative' },
          y: { field: 'share', type: 'quantitative' },
          text: { field: 'text', type: 'nominal' },
        },
      },
    ],
  };
}

export interface ScatterPoint {
  pc1: number;
  pc2: number;
  label: string;
}

export function scatterChart(points: readonly ScatterPoint[], axisTitles: [string, string]): TopLevelSpec {
  const labels = new Set(points.map((p) => p.label)).size;
  // Every label gets its entry (vega stops at 30 by default); many labels go below the plot, in columns.
  const legend =
    labels > coloursOnly ? { orient: 'bottom' as const, columns: 4, labelLimit: 200, symbolLimit: 0 } : { labelLimit: 240, symbolLimit: 0 };
  return {
    config,
    description: 'The first two principal components, one point per image, coloured by label',
    width: 520,
    height: 420,
    data: { values: points.map((p) => ({ ...p })) },
    // Per-point ARIA labels would triple the page's size; the chart keeps its own description.
    mark: { type: 'point', filled: true, size: 22, opacity: 0.75, aria: false },
    encoding: {
      x: { field: 'pc1', type: 'quantitative', title: axisTitles[0], scale: { zero: false } },
      y: { field: 'pc2', type: 'quantitative', title: axisTitles[1], scale: { zero: false } },
      // tableau10's colours are all distinct; tableau20 adds a light twin of each, needed past ten labels.
      color: { field: 'label', type: 'nominal', title: 'label', scale: { scheme: labels > 10 ? 'tableau20' : 'tableau10' }, legend },
      ...(labels > coloursOnly ? { shape: { field: 'label', type: 'nominal', title: 'label', scale: { range: shapes }, legend } } : {}),
    },
  };
}
