// One frame for a change. In software WebGL (the test machine's Chromium has no GPU) every
// frame MapLibre draws is a whole repaint of the map, 0.1–0.25 s, and MapLibre 6.17 draws a
// second frame of the same picture after a frame that
//   - applied a style change (a layer shown or hidden, a paint or layout property set): the
//     style's update fires a `data` event at its end, the map answers it by marking the style
//     dirty again and asking for a frame (mapbox-gl-js issue #5762, "each style mutation
//     triggers two repaints"), in which nothing has changed; or
//   - first placed new symbols (names): it marks the placement it has just committed stale
//     whenever symbol buckets changed, which matters when a placement is spread over several
//     frames; with `fadeDuration: 0` every frame places every symbol afresh after indexing the
//     new buckets, so the frame that first draws new names has them placed.
// A filter change does both (the previous filter's routes hidden; the station names by count
// changed), so each redraw ended with that second repaint, and the map was idle only after it.
// `oneFramePerChange` takes the second frame out in both cases. It wraps two private methods of
// the map's style (`update`, `_updatePlacement`); where one is missing (another MapLibre) it
// leaves it alone and the map draws the extra frame as before. The frames it removes drew what
// the frame before them drew: the browser test checks that a filter change is one frame and
// that the names it drew are those a forced repaint places.
import type * as maplibregl from 'maplibre-gl';

export interface OneFrame {
  /** the frame after a style change is not asked for */
  style: boolean;
  /** a placement with new names is not marked stale */
  placement: boolean;
}

export function oneFramePerChange(map: maplibregl.Map): OneFrame {
  const m = map as any;
  const style = m.style;
  const out: OneFrame = { style: false, placement: false };
  if (!style) return out;
  const update = style.update;
  if (typeof update === 'function') {
    style.update = function (this: any, ...args: unknown[]) {
      const changed = this._changed;
      const asked = m._frameRequest;
      const result = update.apply(this, args);
      // Changes applied, and none made meanwhile by a listener of the `data` event (it would
      // need the next frame): this frame draws them, so a frame asked for by that event would
      // draw the same picture. Only such a frame is withdrawn: not one asked for earlier in this
      // frame, nor while the camera moves or a task waits for the next frame (an animation's
      // next step); and another frame still follows if anything is left dirty at this frame's
      // end (sources, placement, a transition).
      if (changed && !this._changed && !m.isMoving?.() && !m._renderTaskQueue?._queue?.length) {
        m._styleDirty = false;
        if (m._frameRequest && m._frameRequest !== asked) {
          m._frameRequest.abort();
          m._frameRequest = null;
        }
      }
      return result;
    };
    out.style = true;
  }
  const place = style._updatePlacement;
  if (typeof place === 'function') {
    style._updatePlacement = function (this: any, transform: unknown, boxes: boolean, fade: number, ...rest: unknown[]) {
      const more = place.call(this, transform, boxes, fade, ...rest);
      // with no fade the placement just committed was a full one, made after the new buckets
      // were indexed: it is not stale
      if (more && fade === 0 && this.pauseablePlacement?.isDone?.() && this.placement?.stale === true) {
        this.placement.stale = false;
        return this.placement.hasTransitions(performance.now());
      }
      return more;
    };
    out.placement = true;
  }
  return out;
}

/** Holds the map's drawing (not its frames) until the function returned is called: MapLibre
 * still runs each frame's work (the style's update, the tiles in view requested and placed,
 * the names placed, `idle` when all is in), but draws nothing, by passing over its painter's
 * `render` (a private method; where it is missing nothing is held). On the first load every
 * source's tiles arrive in several batches, each answered by a frame that repaints the whole
 * map (0.2–0.5 s each in software WebGL on the test machine, about six of them before the map
 * was idle); held, the first frame drawn is the whole map. The function returned gives the
 * painter back and returns whether it had been held (then a frame is to be asked for). */
export function holdDrawing(map: maplibregl.Map): () => boolean {
  const painter = (map as any).painter;
  if (!painter || typeof painter.render !== 'function' || Object.prototype.hasOwnProperty.call(painter, 'render')) return () => false;
  painter.render = () => {};
  return () => {
    if (!Object.prototype.hasOwnProperty.call(painter, 'render')) return false;
    delete painter.render; // the prototype's again
    return true;
  };
}
