// Drawing the elements of a board: on a 2D canvas context (the board and
// the PNG export) and as SVG (the SVG export), with the same geometry.
// An element is {id, kind, points: [x0, y0, x1, y1, ...], color, width,
// text} in board units (docs/whiteboard.md).

/** The board's size in board units; the canvas scales it to fit. */
export const BOARD_W = 1600;
export const BOARD_H = 900;

/** fontSize is the size of a text element's letters. */
export function fontSize(el) { return Math.max(8, el.width * 6); }

// arrowHead is the two barbs at the end of an arrow from (x0,y0) to (x1,y1).
function arrowHead(el) {
  const [x0, y0, x1, y1] = el.points;
  const a = Math.atan2(y1 - y0, x1 - x0);
  const len = Math.max(12, el.width * 4);
  const s = Math.PI / 7;
  return [
    [x1 - len * Math.cos(a - s), y1 - len * Math.sin(a - s)],
    [x1 - len * Math.cos(a + s), y1 - len * Math.sin(a + s)]
  ];
}

/** drawElement draws el on ctx (in board units). */
export function drawElement(ctx, el) {
  const p = el.points || [];
  ctx.strokeStyle = el.color;
  ctx.fillStyle = el.color;
  ctx.lineWidth = el.width;
  ctx.lineCap = "round";
  ctx.lineJoin = "round";
  switch (el.kind) {
    case "freehand": {
      if (p.length < 4) {
        ctx.beginPath();
        ctx.arc(p[0], p[1], el.width / 2, 0, 2 * Math.PI);
        ctx.fill();
        return;
      }
      // Quadratic curves through the midpoints: a smooth stroke through
      // the pointer's samples.
      ctx.beginPath();
      ctx.moveTo(p[0], p[1]);
      for (let i = 2; i < p.length - 2; i += 2) {
        ctx.quadraticCurveTo(p[i], p[i + 1], (p[i] + p[i + 2]) / 2, (p[i + 1] + p[i + 3]) / 2);
      }
      ctx.lineTo(p[p.length - 2], p[p.length - 1]);
      ctx.stroke();
      return;
    }
    case "line":
    case "arrow": {
      ctx.beginPath();
      ctx.moveTo(p[0], p[1]);
      ctx.lineTo(p[2], p[3]);
      if (el.kind === "arrow") {
        const [a, b] = arrowHead(el);
        ctx.moveTo(a[0], a[1]);
        ctx.lineTo(p[2], p[3]);
        ctx.lineTo(b[0], b[1]);
      }
      ctx.stroke();
      return;
    }
    case "rect":
      ctx.strokeRect(Math.min(p[0], p[2]), Math.min(p[1], p[3]), Math.abs(p[2] - p[0]), Math.abs(p[3] - p[1]));
      return;
    case "ellipse":
      ctx.beginPath();
      ctx.ellipse((p[0] + p[2]) / 2, (p[1] + p[3]) / 2, Math.abs(p[2] - p[0]) / 2, Math.abs(p[3] - p[1]) / 2, 0, 0, 2 * Math.PI);
      ctx.stroke();
      return;
    case "text":
      ctx.font = fontSize(el) + "px sans-serif";
      ctx.textBaseline = "top";
      ctx.fillText(el.text || "", p[0], p[1]);
      return;
  }
}

function esc(s) {
  return String(s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", "\"": "&quot;" })[c]);
}

/** svgElement is el as an SVG element's markup. */
export function svgElement(el) {
  const p = el.points || [];
  const stroke = `stroke="${esc(el.color)}" stroke-width="${el.width}" stroke-linecap="round" stroke-linejoin="round" fill="none"`;
  switch (el.kind) {
    case "freehand": {
      if (p.length < 4) { return `<circle cx="${p[0]}" cy="${p[1]}" r="${el.width / 2}" fill="${esc(el.color)}"/>`; }
      let d = `M${p[0]} ${p[1]}`;
      for (let i = 2; i < p.length - 2; i += 2) {
        d += ` Q${p[i]} ${p[i + 1]} ${(p[i] + p[i + 2]) / 2} ${(p[i + 1] + p[i + 3]) / 2}`;
      }
      d += ` L${p[p.length - 2]} ${p[p.length - 1]}`;
      return `<path d="${d}" ${stroke}/>`;
    }
    case "line":
      return `<line x1="${p[0]}" y1="${p[1]}" x2="${p[2]}" y2="${p[3]}" ${stroke}/>`;
    case "arrow": {
      const [a, b] = arrowHead(el);
      return `<path d="M${p[0]} ${p[1]} L${p[2]} ${p[3]} M${a[0]} ${a[1]} L${p[2]} ${p[3]} L${b[0]} ${b[1]}" ${stroke}/>`;
    }
    case "rect":
      return `<rect x="${Math.min(p[0], p[2])}" y="${Math.min(p[1], p[3])}" width="${Math.abs(p[2] - p[0])}" height="${Math.abs(p[3] - p[1])}" ${stroke}/>`;
    case "ellipse":
      return `<ellipse cx="${(p[0] + p[2]) / 2}" cy="${(p[1] + p[3]) / 2}" rx="${Math.abs(p[2] - p[0]) / 2}" ry="${Math.abs(p[3] - p[1]) / 2}" ${stroke}/>`;
    case "text":
      return `<text x="${p[0]}" y="${p[1]}" dominant-baseline="hanging" font-family="sans-serif" font-size="${fontSize(el)}" fill="${esc(el.color)}">${esc(el.text || "")}</text>`;
  }
  return "";
}

/** svgDocument is the elements (in drawing order) as an SVG file. */
export function svgDocument(els) {
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${BOARD_W}" height="${BOARD_H}" viewBox="0 0 ${BOARD_W} ${BOARD_H}">` +
    `<rect width="${BOARD_W}" height="${BOARD_H}" fill="#ffffff"/>` + els.map(svgElement).join("") + "</svg>";
}

// segDist is the distance of (x,y) from the segment (ax,ay)-(bx,by).
function segDist(x, y, ax, ay, bx, by) {
  const dx = bx - ax, dy = by - ay;
  const l = dx * dx + dy * dy;
  let t = l ? ((x - ax) * dx + (y - ay) * dy) / l : 0;
  t = Math.max(0, Math.min(1, t));
  return Math.hypot(x - (ax + t * dx), y - (ay + t * dy));
}

/** hit reports whether (x,y) is within tol of el's ink; measure(el) gives a text's width. */
export function hit(el, x, y, tol, measure) {
  const p = el.points || [];
  const r = tol + el.width / 2;
  switch (el.kind) {
    case "freehand":
      if (p.length < 4) { return Math.hypot(x - p[0], y - p[1]) <= r; }
      for (let i = 0; i + 3 < p.length; i += 2) {
        if (segDist(x, y, p[i], p[i + 1], p[i + 2], p[i + 3]) <= r) { return true; }
      }
      return false;
    case "line":
    case "arrow":
      return segDist(x, y, p[0], p[1], p[2], p[3]) <= r;
    case "rect": {
      const [x0, y0, x1, y1] = p;
      return segDist(x, y, x0, y0, x1, y0) <= r || segDist(x, y, x1, y0, x1, y1) <= r ||
        segDist(x, y, x1, y1, x0, y1) <= r || segDist(x, y, x0, y1, x0, y0) <= r;
    }
    case "ellipse": {
      const cx = (p[0] + p[2]) / 2, cy = (p[1] + p[3]) / 2;
      const rx = Math.max(1, Math.abs(p[2] - p[0]) / 2), ry = Math.max(1, Math.abs(p[3] - p[1]) / 2);
      const d = Math.hypot((x - cx) / rx, (y - cy) / ry);
      return Math.abs(d - 1) * Math.min(rx, ry) <= r;
    }
    case "text": {
      const w = measure(el), h = fontSize(el);
      return x >= p[0] - tol && x <= p[0] + w + tol && y >= p[1] - tol && y <= p[1] + h + tol;
    }
  }
  return false;
}
