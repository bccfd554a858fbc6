// The seed's 32 emoticons, "e1".."e32", drawn by the client as small SVG
// faces (no image files, nothing fetched). A message's `emotion` and a
// member's avatar may name one.

import { svg } from "./dom.js";

const YELLOW = "#f7c948", RED = "#f26b5b", BLUE = "#8ec5ff", GREEN = "#9ad27a", PURPLE = "#b68cf0", PINK = "#f6a6c1";
const INK = "#3b2a14";

// name, face color, eyes, mouth, extra
const FACES = [
  ["smile", YELLOW, "dot", "smile"],
  ["grin", YELLOW, "dot", "grin"],
  ["laugh", YELLOW, "happy", "grin"],
  ["wink", YELLOW, "wink", "smile"],
  ["sad", YELLOW, "dot", "frown"],
  ["cry", BLUE, "dot", "frown", "tear"],
  ["angry", RED, "dot", "frown", "brows-angry"],
  ["surprised", YELLOW, "wide", "o"],
  ["cool", YELLOW, "shades", "smile"],
  ["love", PINK, "hearts", "smile"],
  ["tongue", YELLOW, "dot", "tongue"],
  ["kiss", YELLOW, "closed", "kiss"],
  ["sleepy", YELLOW, "closed", "small-o", "zzz"],
  ["neutral", YELLOW, "dot", "flat"],
  ["confused", YELLOW, "dot", "wavy"],
  ["blush", YELLOW, "happy", "smile", "cheeks"],
  ["shocked", YELLOW, "wide", "big-o", "brows-up"],
  ["sick", GREEN, "closed", "wavy"],
  ["dizzy", YELLOW, "x", "flat"],
  ["starstruck", YELLOW, "stars", "grin"],
  ["cold", BLUE, "dot", "teeth"],
  ["devil", PURPLE, "dot", "grin", "horns"],
  ["angel", YELLOW, "happy", "smile", "halo"],
  ["nerd", YELLOW, "glasses", "teeth"],
  ["worried", YELLOW, "dot", "frown", "brows-worried"],
  ["eyeroll", YELLOW, "up", "flat"],
  ["silly", YELLOW, "wink", "tongue"],
  ["quiet", YELLOW, "closed", "zip"],
  ["smirk", YELLOW, "dot", "smirk"],
  ["tears of joy", YELLOW, "happy", "grin", "tears"],
  ["thinking", YELLOW, "dot", "smirk", "brow-raised"],
  ["excited", YELLOW, "wide", "grin", "cheeks"]
];

/** EMOTICONS lists the codes "e1".."e32" in order. */
export const EMOTICONS = FACES.map((_, i) => "e" + (i + 1));

/** isEmoticon reports whether code is one of e1..e32. */
export function isEmoticon(code) {
  return typeof code === "string" && /^e([1-9]|[12][0-9]|3[0-2])$/.test(code);
}

/** emoticonName is the emoticon's name for people ("smile"). */
export function emoticonName(code) {
  return isEmoticon(code) ? FACES[Number(code.slice(1)) - 1][0] : "";
}

function stroke(extra) {
  return Object.assign({ fill: "none", stroke: INK, "stroke-width": 1.8, "stroke-linecap": "round", "stroke-linejoin": "round" }, extra || {});
}

function path(d, attrs) { return svg("path", Object.assign({ d: d }, attrs)); }

function eyes(g, kind) {
  const at = [11, 21];
  switch (kind) {
    case "happy":
      at.forEach((x) => g.appendChild(path(`M${x - 3} 14q3-4 6 0`, stroke())));
      break;
    case "wink":
      g.appendChild(svg("circle", { cx: 11, cy: 13, r: 1.9, fill: INK }));
      g.appendChild(path("M18 13.5h6", stroke()));
      break;
    case "closed":
      at.forEach((x) => g.appendChild(path(`M${x - 3} 13q3 3 6 0`, stroke())));
      break;
    case "wide":
      at.forEach((x) => {
        g.appendChild(svg("circle", { cx: x, cy: 13, r: 3.2, fill: "#fff", stroke: INK, "stroke-width": 1.2 }));
        g.appendChild(svg("circle", { cx: x, cy: 13, r: 1.5, fill: INK }));
      });
      break;
    case "up":
      at.forEach((x) => {
        g.appendChild(svg("circle", { cx: x, cy: 13, r: 3, fill: "#fff", stroke: INK, "stroke-width": 1.2 }));
        g.appendChild(svg("circle", { cx: x, cy: 11.3, r: 1.4, fill: INK }));
      });
      break;
    case "hearts":
      at.forEach((x) => g.appendChild(path(`M${x} 16l-3.2-3.2a1.9 1.9 0 0 1 3.2-2.4a1.9 1.9 0 0 1 3.2 2.4z`, { fill: "#d7263d" })));
      break;
    case "stars":
      at.forEach((x) => g.appendChild(path(`M${x} 9.5l1.1 2.4 2.6.3-1.9 1.8.5 2.6-2.3-1.3-2.3 1.3.5-2.6-1.9-1.8 2.6-.3z`, { fill: "#e8a317", stroke: INK, "stroke-width": .6 })));
      break;
    case "x":
      at.forEach((x) => g.appendChild(path(`M${x - 2.5} 10.5l5 5M${x + 2.5} 10.5l-5 5`, stroke())));
      break;
    case "shades":
      g.appendChild(path("M5 11h22v2.5c0 2.5-2 4-4.5 4S18 16 18 13.5h-4c0 2.5-2 4-4.5 4S5 16 5 13.5z", { fill: "#1b1f24" }));
      break;
    case "glasses":
      at.forEach((x) => g.appendChild(svg("circle", { cx: x, cy: 13, r: 3.6, fill: "#ffffff88", stroke: INK, "stroke-width": 1.4 })));
      g.appendChild(path("M14.6 13h2.8", stroke({ "stroke-width": 1.4 })));
      at.forEach((x) => g.appendChild(svg("circle", { cx: x, cy: 13, r: 1.3, fill: INK })));
      break;
    default: // dot
      at.forEach((x) => g.appendChild(svg("circle", { cx: x, cy: 13, r: 1.9, fill: INK })));
  }
}

function mouth(g, kind) {
  switch (kind) {
    case "grin":
      g.appendChild(path("M9 18.5h14a7 7 0 0 1-14 0z", { fill: INK }));
      g.appendChild(path("M11.5 23.2a5 2.6 0 0 1 9 0a7 7 0 0 1-9 0z", { fill: "#e8616d" }));
      break;
    case "frown":
      g.appendChild(path("M10.5 23.5q5.5-5 11 0", stroke()));
      break;
    case "o":
      g.appendChild(svg("ellipse", { cx: 16, cy: 22, rx: 2.6, ry: 3.2, fill: INK }));
      break;
    case "small-o":
      g.appendChild(svg("circle", { cx: 16, cy: 22.5, r: 1.6, fill: INK }));
      break;
    case "big-o":
      g.appendChild(svg("ellipse", { cx: 16, cy: 22.5, rx: 4, ry: 4.3, fill: INK }));
      break;
    case "tongue":
      g.appendChild(path("M10 19.5q6 5 12 0", stroke()));
      g.appendChild(path("M14 21.3h5v2.2a2.5 2.5 0 0 1-5 0z", { fill: "#e8616d", stroke: INK, "stroke-width": 1 }));
      break;
    case "kiss":
      g.appendChild(path("M15 18.5q3 1-0 2.5q3 1 0 2.5", stroke()));
      g.appendChild(path("M23 19.5l-1.6-1.6a1 1 0 0 1 1.6-1.2a1 1 0 0 1 1.6 1.2z", { fill: "#d7263d" }));
      break;
    case "flat":
      g.appendChild(path("M11 21.5h10", stroke()));
      break;
    case "wavy":
      g.appendChild(path("M10 22q1.5-2 3 0t3 0 3 0 3 0", stroke()));
      break;
    case "teeth":
      g.appendChild(svg("rect", { x: 10, y: 19, width: 12, height: 5, rx: 1.5, fill: "#fff", stroke: INK, "stroke-width": 1.3 }));
      g.appendChild(path("M10 21.5h12M14 19v5M18 19v5", stroke({ "stroke-width": .9 })));
      break;
    case "zip":
      g.appendChild(path("M10 21.5h12", stroke()));
      g.appendChild(path("M12 20v3M15 20v3M18 20v3M21 20v3", stroke({ "stroke-width": 1 })));
      break;
    case "smirk":
      g.appendChild(path("M11 22q6 1.5 10-2.5", stroke()));
      break;
    default: // smile
      g.appendChild(path("M10 19.5q6 6 12 0", stroke()));
  }
}

function extras(g, kind, face) {
  switch (kind) {
    case "tear":
      g.appendChild(path("M9 16.5q-2 3 0 4q2-1 0-4z", { fill: "#2f80ed" }));
      break;
    case "tears":
      g.appendChild(path("M6.5 15q-2 3 0 4q2-1 0-4zM25.5 15q-2 3 0 4q2-1 0-4z", { fill: "#2f80ed" }));
      break;
    case "brows-angry":
      g.appendChild(path("M7.5 8.5l6 2.5M24.5 8.5l-6 2.5", stroke()));
      break;
    case "brows-worried":
      g.appendChild(path("M8 10.5l5-2.5M24 10.5l-5-2.5", stroke()));
      break;
    case "brows-up":
      g.appendChild(path("M8 7.5q3-2 6 0M18 7.5q3-2 6 0", stroke()));
      break;
    case "brow-raised":
      g.appendChild(path("M8 9.5q3-1.5 6 0M18 8q3-2.5 6-0.5", stroke()));
      break;
    case "cheeks":
      g.appendChild(svg("circle", { cx: 8, cy: 18, r: 2.2, fill: "#f28b9b", opacity: .75 }));
      g.appendChild(svg("circle", { cx: 24, cy: 18, r: 2.2, fill: "#f28b9b", opacity: .75 }));
      break;
    case "zzz":
      g.appendChild(path("M23 3h4l-4 4h4", stroke({ "stroke-width": 1.3 })));
      break;
    case "horns":
      g.insertBefore(path("M6 9L4 1l7 4zM26 9l2-8-7 4z", { fill: face }), g.firstChild);
      break;
    case "halo":
      g.appendChild(svg("ellipse", { cx: 16, cy: 2.6, rx: 8, ry: 2, fill: "none", stroke: "#e8a317", "stroke-width": 1.6 }));
      break;
  }
}

/**
 * emoticon draws the emoticon code (e1..e32) at size px, or returns null
 * for any other code. The picture is labelled with its name.
 */
export function emoticon(code, size = 20) {
  if (!isEmoticon(code)) { return null; }
  const [name, face, eyeKind, mouthKind, extra] = FACES[Number(code.slice(1)) - 1];
  const s = svg("svg", { viewBox: "0 0 32 32", width: size, height: size, role: "img", "aria-label": name, focusable: "false", "class": "emoticon", "data-emoticon": code });
  const title = svg("title", {});
  title.textContent = name;
  s.appendChild(title);
  const g = svg("g", {});
  g.appendChild(svg("circle", { cx: 16, cy: 17, r: 13.5, fill: face, stroke: "#00000040", "stroke-width": 1 }));
  s.appendChild(g);
  const parts = svg("g", { transform: "translate(0 1)" });
  eyes(parts, eyeKind);
  mouth(parts, mouthKind);
  s.appendChild(parts);
  if (extra) { extras(extra === "horns" ? g : parts, extra, face); }
  return s;
}
