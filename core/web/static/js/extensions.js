// Client extensions: the ES modules that enabled server modules ship
// under /plugins/<name>/ (listed in hello.extensions), and the API they
// get. docs/plugins.md ("Web client extensions") documents the API. An extension that
// fails (to load, to start, in a handler) is reported in a small notice
// and never takes the client down with it.

import { node } from "./dom.js";
import { ProtocolError } from "./protocol.js";

// clone gives an extension its own copy of a value of the client's.
function clone(v) {
  if (v === null || v === undefined) { return null; }
  try { return structuredClone(v); } catch (e) { return JSON.parse(JSON.stringify(v)); }
}

/** extensionURL returns the same-origin URL of an extension under /plugins/, or "". */
export function extensionURL(u) {
  if (typeof u !== "string" || u.charAt(0) !== "/" || u.charAt(1) === "/") { return ""; }
  let url;
  try { url = new URL(u, location.origin); } catch (e) { return ""; }
  if (url.origin !== location.origin || url.pathname.indexOf("/plugins/") !== 0) { return ""; }
  return url.href;
}

/** createExtensions makes the loader and registry of extensions for app. */
export function createExtensions(app) {
  const { state, proto } = app;
  const loaded = new Map(); // url -> module name
  const ext = {
    roomBadges: [],  // {module, fn}
    userActions: [], // {module, label, onClick}
    userBadges: [],  // {module, fn}
    commands: new Map(), // "/roll" -> {module, handler}
    load: load,
    roomBadgeText: roomBadgeText,
    userBadgeText: userBadgeText,
    runUserAction: runUserAction,
    runCommand: runCommand,
    failed: failed
  };

  const notices = document.getElementById("ext-notices");

  const reported = new Set(); // notices shown once: module, what, message

  // failed tells the user, briefly and once, that an extension broke.
  function failed(module, what, err) {
    const msg = err && err.message ? err.message : String(err);
    const key = module + "\n" + what + "\n" + msg;
    if (reported.has(key)) { return; }
    reported.add(key);
    console.warn("parlor: extension " + module + ": " + what + ":", err);
    const li = node("li", "ext-notice");
    li.setAttribute("data-module", module);
    li.appendChild(node("span", "", "The " + module + " extension " + what + " (" + msg + ")."));
    const x = node("button", "btn btn-ghost btn-small", "Dismiss");
    x.type = "button";
    x.addEventListener("click", () => {
      li.remove();
      notices.hidden = notices.childElementCount === 0;
    });
    li.appendChild(x);
    notices.appendChild(li);
    while (notices.childElementCount > 5) { notices.removeChild(notices.firstChild); }
    notices.hidden = false;
  }

  // guard runs f for module's extension; a throw or a rejected Promise
  // is reported, never passed on.
  function guard(module, what, f) {
    try {
      const r = f();
      if (r && typeof r.then === "function") {
        r.then(null, (e) => { failed(module, what, e); });
      }
      return r;
    } catch (e) {
      failed(module, what, e);
      return undefined;
    }
  }

  function roomBadgeText(b, room) {
    const t = guard(b.module, "failed in a room badge", () => b.fn(clone(room)));
    return typeof t === "string" || typeof t === "number" ? String(t).slice(0, 40) : "";
  }

  function userBadgeText(b, member) {
    const t = guard(b.module, "failed in a user badge", () => b.fn(clone(member)));
    return typeof t === "string" || typeof t === "number" ? String(t).slice(0, 40) : "";
  }

  function runUserAction(a, member) {
    guard(a.module, "failed in the action " + a.label, () => a.onClick(clone(member)));
  }

  // runCommand runs the slash command text starts with; false when no
  // extension registered it (the text then goes out as a message).
  function runCommand(text) {
    const m = /^(\/[^\s]+)(?:\s+([\s\S]*))?$/.exec(text.trim());
    if (!m) { return false; }
    const c = ext.commands.get(m[1].toLowerCase());
    if (!c) { return false; }
    guard(c.module, "failed in " + m[1], () => c.handler(m[2] || "", clone(state.room)));
    return true;
  }

  // api is the object an extension's init function gets.
  function api(module) {
    return Object.freeze({
      module: module,
      send(type, fields) {
        if (typeof type !== "string" || type.indexOf(".") < 1) {
          return Promise.reject(new ProtocolError("bad_request", "A module command's type has a dot: \"" + module + ".something\"."));
        }
        const msg = Object.assign({}, fields || {}, { type: type });
        delete msg.id;
        if (msg.room === undefined && state.room) { msg.room = state.room.id; }
        return proto.request(msg).then((ev) => (ev && ev.data !== undefined ? ev.data : null));
      },
      on(type, handler) {
        if (typeof handler !== "function") { throw new TypeError("api.on needs a function"); }
        return proto.on(type, (ev) => { guard(module, "failed handling " + type, () => handler(clone(ev))); });
      },
      addPanel(p) {
        const id = module + "." + String((p && p.id) || "panel");
        const panel = app.panels.addPanel(id, String((p && p.title) || module));
        if (p && typeof p.render === "function") {
          guard(module, "failed to draw its panel", () => p.render(panel.body));
        }
        return { el: panel.body, remove() { panel.section.remove(); } };
      },
      addToolbarButton(b) {
        const id = module + "." + String((b && b.id) || "button");
        const el = app.panels.addToolbarButton(id, String((b && b.label) || module), () => {
          if (b && typeof b.onClick === "function") { guard(module, "failed in its button", () => b.onClick()); }
        });
        return { el: el, remove() { el.remove(); } };
      },
      addRoomBadge(fn) {
        if (typeof fn !== "function") { throw new TypeError("api.addRoomBadge needs a function"); }
        const b = { module: module, fn: fn };
        ext.roomBadges.push(b);
        app.rooms.render();
        return () => {
          ext.roomBadges.splice(ext.roomBadges.indexOf(b), 1);
          app.rooms.render();
        };
      },
      addUserBadge(fn) {
        if (typeof fn !== "function") { throw new TypeError("api.addUserBadge needs a function"); }
        const b = { module: module, fn: fn };
        ext.userBadges.push(b);
        app.users.render();
        return {
          refresh() { app.users.render(); },
          remove() {
            const i = ext.userBadges.indexOf(b);
            if (i >= 0) { ext.userBadges.splice(i, 1); }
            app.users.render();
          }
        };
      },
      addUserAction(a) {
        if (!a || typeof a.onClick !== "function") { throw new TypeError("api.addUserAction needs {label, onClick}"); }
        const act = { module: module, label: String(a.label || module), onClick: a.onClick };
        ext.userActions.push(act);
        app.users.render();
        return () => {
          ext.userActions.splice(ext.userActions.indexOf(act), 1);
          app.users.render();
        };
      },
      addCommand(name, handler) {
        const n = String(name || "").toLowerCase();
        if (!/^\/[^\s/]+$/.test(n) || typeof handler !== "function") {
          throw new TypeError("api.addCommand needs a name like \"/roll\" and a function");
        }
        ext.commands.set(n, { module: module, handler: handler });
        return () => { if (ext.commands.get(n) && ext.commands.get(n).handler === handler) { ext.commands.delete(n); } };
      },
      room() { return clone(state.room); },
      user() { return clone(state.me); },
      members() { return clone(state.members); },
      showSystem(text) {
        const li = app.messages.addLine("system", String(text));
        li.setAttribute("data-module", module);
      }
    });
  }

  // load imports the extensions of a hello frame, each URL once per page.
  function load(list) {
    if (!Array.isArray(list)) { return; }
    for (const e of list) {
      const module = e && typeof e.module === "string" && e.module ? e.module : "unnamed";
      const url = extensionURL(e && e.url);
      if (!url) {
        failed(module, "was not loaded", new Error("its URL is not under /plugins/ of this server"));
        continue;
      }
      if (loaded.has(url)) { continue; }
      loaded.set(url, module);
      import(url).then((mod) => {
        const init = typeof mod.default === "function" ? mod.default : typeof mod.init === "function" ? mod.init : null;
        if (!init) {
          failed(module, "did not start", new Error("it exports no default or init function"));
          return;
        }
        guard(module, "failed to start", () => init(api(module)));
      }, (err) => {
        failed(module, "could not be loaded", err);
      });
    }
  }

  proto.on("hello", (ev) => { load(ev.extensions); });
  return ext;
}
