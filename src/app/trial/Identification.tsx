// Identification of the stimulus from the decoded image embedding: cosine similarity with the
// ground-truth image embeddings of the 18 stimuli (ranked), and the nearest training images of the
// bundle's gallery. Scores come from the decode worker (src/core/evaluate).
import type { Manifest } from '../../core/bundle/manifest.ts';
import type { IdentifyResponse } from '../../core/decode/protocol.ts';
import { TensorImage, imageOf } from '../common/TensorImage.tsx';
import { formatNum } from '../common/format.ts';

export function StimulusRanking({ manifest, result, truth }: { manifest: Manifest; result: IdentifyResponse; truth: number }) {
  const n = result.ranked.length;
  const rank = result.ranked.findIndex((r) => r.id === truth) + 1;
  const lo = Math.min(0, ...result.ranked.map((r) => r.score));
  const hi = Math.max(...result.ranked.map((r) => r.score), 1e-9);
  return (
    <div className="ident" data-testid="ident-stimuli" data-rank={rank} data-n={n}>
      <div className="ident__summary">
        True stimulus ranked <strong data-testid="ident-rank">{rank > 0 ? rank : '—'}</strong> of {n}{' '}
        <span className="muted">(chance {((n + 1) / 2).toFixed(1)})</span>
      </div>
      <ol className="ident__list">
        {result.ranked.map((r, i) => {
          const s = manifest.stimuli.find((x) => x.id === r.id);
          const w = ((r.score - lo) / (hi - lo)) * 100;
          return (
            <li key={r.id} className={`ident__row ${r.id === truth ? 'is-truth' : ''}`}>
              <span className="ident__rank">{i + 1}</span>
              <span className="ident__cue">{s?.cue ?? '?'}</span>
              <span className="ident__name" title={s?.caption}>
                {s?.name ?? `stimulus ${r.id}`}
              </span>
              <span className="ident__bar">
                <span style={{ width: `${Math.max(0, w)}%` }} />
              </span>
              <span className="ident__score">{formatNum(r.score, 3)}</span>
            </li>
          );
        })}
      </ol>
      <div className="muted ident__source">cosine similarity of decoded vs. ground-truth image embedding (this bundle's “stimuli” features)</div>
    </div>
  );
}

export function GalleryMatches({ manifest, result, top = 6 }: { manifest: Manifest; result: IdentifyResponse; top?: number }) {
  const gallery = manifest.gallery;
  return (
    <div className="gallery-matches" data-testid="ident-gallery">
      <div className="gallery-matches__grid">
        {result.ranked.slice(0, top).map((r, i) => (
          <figure key={r.row} className="gallery-matches__item">
            {gallery && r.id >= 0 && r.id < gallery.images.shape[0] ? (
              <TensorImage tensor={imageOf(gallery.images, r.id)} size={96} label={gallery.captions[r.id] ?? `training image ${r.id}`} />
            ) : (
              <div className="tensor-image tensor-image--error">#{r.id}</div>
            )}
            <figcaption>
              <span>
                {i + 1}. cos {formatNum(r.score, 3)}
              </span>
              <span className="muted gallery-matches__caption">{gallery?.captions[r.id] ?? `image ${r.id}`}</span>
            </figcaption>
          </figure>
        ))}
      </div>
      <div className="muted ident__source">nearest of {result.ranked.length.toLocaleString()} training images by cosine similarity of image embeddings</div>
    </div>
  );
}
