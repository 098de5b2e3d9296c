/**
 * The report's sections on the run's vectors (vector-analysis.ts): kNN accuracy per label, near-duplicates and
 * copies, images whose nearest neighbour has another label, nearest-neighbour examples; thumbnails inline.
 */
import type { KnnEvaluation } from '../shared/vectors/knn-evaluation.ts';
import { escapeHtml } from './escape-html.ts';
import type { Thumbnails } from './thumbnails.ts';
import { type DuplicateGroups, type ImageRef, nearDuplicateSimilarity, type VectorAnalysisResult } from './vector-analysis.ts';

const percent = (share: number) => `${(share * 100).toFixed(1)}%`;

/** The image's thumbnail, or nothing when it has none. */
export function thumbnailImage(thumbnails: Thumbnails | undefined, path: string): string {
  const uri = thumbnails?.byPath[path];
  return uri ? `<img class="thumb" alt="" src="${uri}">` : '';
}

/** An image as the report shows it: its thumbnail when there is one, its label and path. */
function imageFigure(image: ImageRef, thumbnails: Thumbnails | undefined, caption = ''): string {
  return `<figure class="image">${thumbnailImage(thumbnails, image.path)}<figcaption>${escapeHtml(image.label)}${caption}<br><code>${escapeHtml(image.path)}</code></figcaption></figure>`;
}

export function vectorsSections(result: VectorAnalysisResult | undefined, thumbnails: Thumbnails | undefined): string {
  if (!result) return '';
  if (result.state === 'skipped') {
    return `<section id="vectors"><h2>Nearest neighbours</h2><p class="muted">Not analysed: ${escapeHtml(result.reason)}</p></section>`;
  }
  const { analysis } = result;
  const sampled =
    analysis.analysed < analysis.rows
      ? `A uniform sample of ${analysis.analysed} of the run's ${analysis.rows} vectors (the rows whose paths hash lowest, drawn as the parts were written: the same images from run to run), searched exactly (cosine).`
      : `All ${analysis.rows} vectors of the run, searched exactly (cosine).`;
  const note = thumbnails?.unavailable ? `<p class="muted">No thumbnails: ${escapeHtml(thumbnails.unavailable)}.</p>` : '';
  const similarity = (s: number) => `, cosine ${s.toFixed(3)}`;
  return `<section id="knn">
<h2>How well the vectors separate the labels</h2>
<p class="muted">${sampled}</p>
${note}
${knnTable(analysis.knn, analysis.knnSkipped)}
${
  analysis.misclassified.length
    ? `<h3>Nearest neighbour of another label</h3><div class="pairs">${analysis.misclassified
        .map(
          (m) =>
            `<div class="pair">${imageFigure(m.image, thumbnails)}<span class="arrow">→</span>${imageFigure(m.nearest, thumbnails, similarity(m.nearest.similarity))}</div>`,
        )
        .join('')}</div>`
    : ''
}
<h3>Nearest-neighbour examples</h3>
${analysis.neighbours
  .map(
    (n) =>
      `<div class="pair">${imageFigure(n.image, thumbnails)}<span class="arrow">→</span>${n.matches
        .map((m) => imageFigure(m, thumbnails, similarity(m.similarity)))
        .join('')}</div>`,
  )
  .join('')}
</section>
<section id="duplicates">
<h2>Duplicates</h2>
${
  analysis.sameContent
    ? groupsBlock(
        'Same content under different paths',
        'same-content',
        'one content hash (SHA-256) under several paths, over every row of the run',
        analysis.sameContent,
        thumbnails,
      )
    : `<h3>Same content under different paths</h3><p class="muted" data-groups="same-content">Not counted: ${escapeHtml(analysis.sameContentSkipped ?? '')}.</p>`
}
${groupsBlock('Near-duplicates', 'near-duplicates', `cosine similarity ≥ ${nearDuplicateSimilarity} between different contents, within the vectors analysed`, analysis.nearDuplicates, thumbnails)}
</section>`;
}

function knnTable(knn: KnnEvaluation | undefined, skipped: string | undefined): string {
  if (!knn) return `<p class="muted">No kNN accuracy: ${escapeHtml(skipped ?? 'nothing to test')}.</p>`;
  const mode =
    knn.mode === 'split'
      ? 'Test images against Training ones (the paths carry the split)'
      : 'each image against the others, copies of it left out';
  return `<table class="facts"><tbody>
<tr><th>mode</th><td>${mode}</td></tr>
<tr><th>images tested</th><td data-knn="images">${knn.images}</td></tr>
<tr><th>1-NN top-1</th><td data-knn="top1">${percent(knn.top1)}</td></tr>
<tr><th>5-NN vote</th><td data-knn="vote5">${percent(knn.vote5)}</td></tr>
</tbody></table>
<details><summary>Per label</summary><table><thead><tr><th>label</th><th class="num">images</th><th class="num">1-NN top-1</th></tr></thead><tbody>${knnRows(knn)}</tbody></table></details>
${
  knn.confusions.length
    ? `<h3>Most confused labels</h3><table><thead><tr><th>label</th><th>nearest neighbour's label</th><th class="num">images</th></tr></thead><tbody>${knn.confusions
        .map((c) => `<tr><td>${escapeHtml(c.label)}</td><td>${escapeHtml(c.predicted)}</td><td class="num">${c.images}</td></tr>`)
        .join('')}</tbody></table>`
    : ''
}`;
}

function knnRows(knn: KnnEvaluation): string {
  return Object.entries(knn.perLabel)
    .map(
      ([label, { images, top1 }]) =>
        `<tr data-label="${escapeHtml(label)}"><td>${escapeHtml(label)}</td><td class="num">${images}</td><td class="num">${percent(top1)}</td></tr>`,
    )
    .join('');
}

function groupsBlock(title: string, id: string, what: string, groups: DuplicateGroups, thumbnails: Thumbnails | undefined): string {
  const head = `<h3>${title}</h3><p data-groups="${id}">${groups.groups} group${groups.groups === 1 ? '' : 's'}, ${groups.images} images <span class="muted">(${escapeHtml(what)})</span></p>`;
  if (groups.groups === 0) return head;
  const shown = groups.examples.length < groups.groups ? `<p class="muted">The ${groups.examples.length} largest groups:</p>` : '';
  return `${head}${shown}${groups.examples.map((group) => `<div class="pair">${group.map((image) => imageFigure(image, thumbnails)).join('')}</div>`).join('')}`;
}
