/**
 * A run's report as one self-contained HTML page: inline CSS and inline SVG charts, no script, no font, no
 * image or link to fetch, so it opens from S3, a laptop or an e-mail attachment alike, offline.
 * Every section renders from what is known; what is missing is said, never guessed.
 */
import { failureCodes } from '../shared/failures.ts';
import { cumulativeVarianceChart, labelCountsChart, renderSvg, type ScatterPoint, scatterChart } from './charts.ts';
import { escapeHtml } from './escape-html.ts';
import type { Thumbnails } from './thumbnails.ts';
import type { VectorAnalysisResult } from './vector-analysis.ts';
import { thumbnailImage, vectorsSections } from './vectors-section.ts';

export interface ReportData {
  runId: string;
  /** When this page was rendered (ISO 8601). */
  renderedAt: string;
  /** The validation outcome; null when it is not known. */
  passed: boolean | null;
  summary?: string;
  extractor: { modelId?: string; engine?: string; preprocessing?: string };
  /** What the run covers, in words: its kind and the rows of the dataset it replaces. */
  scope?: string;
  counts: { listed?: number; rows?: number; failures?: number; skipped?: number };
  checks?: { name: string; passed: boolean; detail: string }[];
  labels?: { counts: Record<string, number>; source: string };
  failures?: { counts: Record<string, number>; examples: Record<string, { path: string; message: string }[]>; source: string };
  pca: PcaSection;
  /** kNN accuracy, duplicates and neighbours of the run's vectors; absent for a run refused before it started. */
  vectors?: VectorAnalysisResult;
  /** Inline thumbnails of the images the page shows. */
  thumbnails?: Thumbnails;
  timings: { step: string; millis: number }[];
  /** What could not be read, said at the top of the page. */
  notes: string[];
}

export type PcaSection =
  | { state: 'not-requested' }
  | { state: 'skipped'; reason: string }
  | { state: 'failed'; error: string }
  | {
      state: 'done';
      modelId: string;
      modelKey: string;
      fitted: boolean;
      selection: string;
      components: number;
      varianceShare: number;
      /** Vectors the model was fitted on (another run's, when a saved model was applied). */
      samples: number;
      /** Cumulative share of variance over the full spectrum. */
      cumulative: number[];
      /** Share of variance along the first two axes, for the scatter's axis titles. */
      firstShares: [number, number];
      scatter?: { points: ScatterPoint[]; total: number };
    };

export async function renderReport(data: ReportData): Promise<string> {
  const sections = [
    summarySection(data),
    await labelsSection(data),
    failuresSection(data),
    vectorsSections(data.vectors, data.thumbnails),
    await pcaSection(data.pca),
    timingsSection(data),
  ];
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>featurize run ${escapeHtml(data.runId)}</title>
<style>${css}</style>
</head>
<body>
<header>
<h1>Run <code>${escapeHtml(data.runId)}</code> ${outcomeBadge(data.passed)}</h1>
<p class="muted">Rendered ${escapeHtml(data.renderedAt)} by featurize.</p>
${data.notes.length ? `<ul class="notes">${data.notes.map((note) => `<li>${escapeHtml(note)}</li>`).join('')}</ul>` : ''}
</header>
<main>
${sections.join('\n')}
</main>
</body>
</html>
`;
}

function summarySection(data: ReportData): string {
  const { counts, extractor } = data;
  const figure = (name: string, value: number | undefined) =>
    `<div class="figure" data-count="${name}"><span class="value">${value === undefined ? '–' : formatInt(value)}</span><span class="name">${name}</span></div>`;
  const checks = data.checks?.length
    ? `<table><thead><tr><th>check</th><th>result</th><th>detail</th></tr></thead><tbody>${data.checks
        .map(
          (c) =>
            `<tr><td>${escapeHtml(c.name)}</td><td>${c.passed ? '<span class="ok">passed</span>' : '<span class="bad">failed</span>'}</td><td>${escapeHtml(c.detail)}</td></tr>`,
        )
        .join('')}</tbody></table>`
    : '<p class="muted">No validation checks recorded.</p>';
  return `<section id="summary">
<h2>Summary</h2>
${data.summary ? `<p>${escapeHtml(data.summary)}</p>` : ''}
<div class="figures">${figure('listed', counts.listed)}${figure('rows', counts.rows)}${figure('failures', counts.failures)}${figure('skipped', counts.skipped)}</div>
<table class="facts"><tbody>
${data.scope ? `<tr><th>run</th><td>${escapeHtml(data.scope)}</td></tr>` : ''}
<tr><th>feature extractor</th><td>${escapeHtml(extractor.modelId ?? 'unknown')}</td></tr>
<tr><th>engine</th><td>${escapeHtml(extractor.engine ?? 'unknown')}</td></tr>
<tr><th>preprocessing</th><td><code>${escapeHtml(extractor.preprocessing ?? 'unknown')}</code></td></tr>
</tbody></table>
<h3>Validation checks</h3>
${checks}
</section>`;
}

async function labelsSection({ labels }: ReportData): Promise<string> {
  if (!labels || Object.keys(labels.counts).length === 0) {
    return `<section id="labels"><h2>Rows per label</h2><p class="muted">No feature rows to count.</p></section>`;
  }
  const rows = Object.entries(labels.counts)
    .map(([label, count]) => ({ label, rows: count }))
    .sort((a, b) => b.rows - a.rows || a.label.localeCompare(b.label));
  return `<section id="labels">
<h2>Rows per label</h2>
<p class="muted">${formatInt(rows.length)} labels, ${escapeHtml(labels.source)}.</p>
<figure class="chart">${await renderSvg(labelCountsChart(rows))}</figure>
<details><summary>Table</summary><table><thead><tr><th>label</th><th class="num">rows</th></tr></thead><tbody>${rows
    .map((r) => `<tr><td>${escapeHtml(r.label)}</td><td class="num">${formatInt(r.rows)}</td></tr>`)
    .join('')}</tbody></table></details>
</section>`;
}

function failuresSection({ failures, thumbnails }: ReportData): string {
  if (!failures)
    return `<section id="failures"><h2>Failures</h2><p class="muted">No failure records were found for this run.</p></section>`;
  const codes = Object.entries(failures.counts).sort((a, b) => b[1] - a[1]);
  if (codes.length === 0) return `<section id="failures"><h2>Failures</h2><p>No failures: every listed input has a vector.</p></section>`;
  const meaning = (code: string) => (failureCodes as Record<string, string>)[code] ?? '';
  return `<section id="failures">
<h2>Failures</h2>
<p class="muted">${escapeHtml(failures.source)}.</p>
<table><thead><tr><th>code</th><th class="num">count</th><th>meaning</th><th>examples</th></tr></thead><tbody>${codes
    .map(
      ([code, count]) =>
        `<tr data-code="${escapeHtml(code)}"><td><code>${escapeHtml(code)}</code></td><td class="num">${formatInt(count)}</td><td>${escapeHtml(meaning(code))}</td><td><ul class="examples">${(
          failures.examples[code] ?? []
        )
          .map((e) => `<li>${thumbnailImage(thumbnails, e.path)}<code>${escapeHtml(e.path)}</code><br>${escapeHtml(e.message)}</li>`)
          .join('')}</ul></td></tr>`,
    )
    .join('')}</tbody></table>
</section>`;
}

async function pcaSection(pca: PcaSection): Promise<string> {
  const heading = '<h2>Dimension reduction (PCA)</h2>';
  if (pca.state === 'not-requested')
    return `<section id="pca">${heading}<p class="muted">PCA was not requested for this run.</p></section>`;
  if (pca.state === 'skipped')
    return `<section id="pca">${heading}<p class="muted">PCA did not run: ${escapeHtml(pca.reason)}</p></section>`;
  if (pca.state === 'failed') return `<section id="pca">${heading}<p class="bad">PCA failed: ${escapeHtml(pca.error)}</p></section>`;

  const percent = (share: number) => `${(share * 100).toFixed(1)}%`;
  const scatter = pca.scatter
    ? `<h3>First two components</h3>
<p class="muted">${
        pca.scatter.points.length < pca.scatter.total
          ? `A uniform random sample of ${formatInt(pca.scatter.points.length)} of the run's ${formatInt(pca.scatter.total)} vectors (fixed seed: the same sample each time).`
          : `All ${formatInt(pca.scatter.total)} vectors of the run.`
      }</p>
<figure class="chart">${await renderSvg(
        scatterChart(pca.scatter.points, [
          `PC1 (${percent(pca.firstShares[0])} of variance)`,
          `PC2 (${percent(pca.firstShares[1])} of variance)`,
        ]),
      )}</figure>`
    : '<p class="muted">One component kept: no 2-D scatter.</p>';
  // The curve is drawn up to where it flattens: past 99% (or twice the kept count) it says nothing more.
  const flat = pca.cumulative.findIndex((share) => share >= 0.99) + 1 || pca.cumulative.length;
  const shown = Math.min(pca.cumulative.length, Math.max(flat, 2 * pca.components, 10));
  return `<section id="pca">
${heading}
<table class="facts"><tbody>
<tr><th>model</th><td><code>${escapeHtml(pca.modelKey)}</code> (${pca.fitted ? 'fitted on this run' : 'a saved model, applied without refitting'})</td></tr>
<tr><th>selection</th><td>${escapeHtml(pca.selection)}</td></tr>
<tr><th>components kept</th><td>${formatInt(pca.components)} of ${formatInt(pca.cumulative.length)}, explaining ${percent(pca.varianceShare)} of the variance</td></tr>
<tr><th>fitted on</th><td>${formatInt(pca.samples)} vectors</td></tr>
</tbody></table>
<h3>Explained variance</h3>
<p class="muted">Cumulative share of the variance of the fitted vectors, first ${formatInt(shown)} of ${formatInt(pca.cumulative.length)} components.</p>
<figure class="chart">${await renderSvg(cumulativeVarianceChart({ cumulative: pca.cumulative.slice(0, shown), kept: pca.components }))}</figure>
${scatter}
</section>`;
}

function timingsSection({ timings }: ReportData): string {
  if (timings.length === 0) return `<section id="timings"><h2>Timings</h2><p class="muted">No timings recorded.</p></section>`;
  return `<section id="timings">
<h2>Timings</h2>
<table><thead><tr><th>step</th><th class="num">duration</th></tr></thead><tbody>${timings
    .map((t) => `<tr><td>${escapeHtml(t.step)}</td><td class="num">${formatMillis(t.millis)}</td></tr>`)
    .join('')}</tbody></table>
</section>`;
}

function outcomeBadge(passed: boolean | null): string {
  if (passed === null) return '<span class="badge unknown">outcome unknown</span>';
  return passed ? '<span class="badge ok">validation passed</span>' : '<span class="badge bad">validation failed</span>';
}

function formatInt(value: number): string {
  return value.toLocaleString('en-US');
}

function formatMillis(millis: number): string {
  if (millis < 1000) return `${Math.round(millis)} ms`;
  if (millis < 120_000) return `${(millis / 1000).toFixed(1)} s`;
  return `${Math.floor(millis / 60_000)} min ${Math.round((millis % 60_000) / 1000)} s`;
}

const css = `
body{font:15px/1.45 system-ui,sans-serif;color:#222;margin:0 auto;max-width:1100px;padding:1rem 1.5rem 3rem}
h1{font-size:1.5rem}h1 code{font-size:inherit}h2{border-bottom:1px solid #ddd;padding-bottom:.2rem;margin-top:2.2rem}h3{font-size:1.05rem}
code{font:13px ui-monospace,monospace;word-break:break-all}
.muted{color:#666}.ok{color:#1a7f37}.bad{color:#c0392b}
.badge{font-size:.8rem;vertical-align:middle;padding:.15rem .5rem;border-radius:1rem;margin-left:.5rem;color:#fff}
.badge.ok{background:#1a7f37}.badge.bad{background:#c0392b}.badge.unknown{background:#888}
.notes{background:#fff8e1;border:1px solid #f0d58c;padding:.6rem 1.6rem}
.figures{display:flex;gap:1rem;margin:1rem 0}
.figure{border:1px solid #ddd;border-radius:.4rem;padding:.6rem 1rem;min-width:8rem}
.figure .value{display:block;font-size:1.6rem;font-weight:600}.figure .name{color:#666}
table{border-collapse:collapse;margin:.5rem 0}th,td{border-bottom:1px solid #eee;padding:.3rem .6rem;text-align:left;vertical-align:top}
.facts th{font-weight:normal;color:#666}.num{text-align:right;font-variant-numeric:tabular-nums}
.examples{margin:0;padding-left:1rem;font-size:.9rem}
figure.chart{margin:1rem 0;overflow-x:auto}
.pair{display:flex;flex-wrap:wrap;align-items:flex-start;gap:.6rem;margin:.6rem 0}.arrow{align-self:center;color:#666}
figure.image{margin:0;width:10rem;font-size:.8rem}figure.image code{font-size:11px}
img.thumb{display:block;max-width:64px;max-height:64px;border:1px solid #ddd;margin-bottom:.2rem}
@media print{figure.chart{break-inside:avoid}}
`;
