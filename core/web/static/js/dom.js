// DOM helpers shared by the views. User-supplied text is only ever placed
// with textContent; nothing here parses markup.

/** COLOR_RE is the only text color the protocol carries: # and six hex digits. */
export const COLOR_RE = /^#[0-9a-fA-F]{6}$/;

const SVG_NS = "http://www.w3.org/2000/svg";

/** $ returns the element with the id. */
export function $(id) { return document.getElementById(id); }

/** elements returns the page's fixed elements by role. */
export function elements() {
  return {
    status: $("status"),
    me: $("me"),
    meName: $("me-name"),
    meGuest: $("me-guest"),
    meAdmin: $("me-admin"),
    toolbar: $("toolbar"),
    toggles: $("panel-toggles"),
    toggleRooms: $("toggle-rooms"),
    toggleUsers: $("toggle-users"),
    connLost: $("conn-lost"),
    connLostText: $("conn-lost-text"),
    reconnect: $("reconnect"),
    loginView: $("login-view"),
    loginForm: $("login-form"),
    loginHint: $("login-hint"),
    loginUser: $("login-user"),
    loginPassword: $("login-password"),
    loginPasswordOptional: $("login-password-optional"),
    loginError: $("login-error"),
    loginSubmit: $("login-submit"),
    chatView: $("chat-view"),
    roomsPanel: $("rooms-panel"),
    rooms: $("rooms"),
    roomsEmpty: $("rooms-empty"),
    roomTitle: $("room-title"),
    roomDesc: $("room-desc"),
    roomCount: $("room-count"),
    leave: $("leave-room"),
    roomError: $("room-error"),
    messages: $("messages"),
    extPanels: $("ext-panels"),
    compose: $("compose"),
    pmBar: $("pm-bar"),
    pmTo: $("pm-to"),
    pmClear: $("pm-clear"),
    styleB: $("style-b"),
    styleI: $("style-i"),
    styleU: $("style-u"),
    styleColor: $("style-color"),
    styleColorClear: $("style-color-clear"),
    emotionButton: $("emotion-button"),
    emotionPicker: $("emotion-picker"),
    text: $("compose-text"),
    send: $("compose-send"),
    usersPanel: $("users-panel"),
    backdrop: $("panel-backdrop"),
    users: $("users"),
    usersCount: $("users-count"),
    pwDialog: $("room-password-dialog"),
    pwForm: $("room-password-form"),
    pwText: $("room-password-text"),
    pwInput: $("room-password"),
    pwError: $("room-password-error"),
    pwCancel: $("room-password-cancel"),
    logout: $("logout"),
    ssoLinks: $("sso-links"),
    ssoLogin: $("sso-login"),
    ssoRegister: $("sso-register")
  };
}

/** node makes an element with a class name and, if given, its text. */
export function node(tag, className, text) {
  const n = document.createElement(tag);
  if (className) { n.className = className; }
  if (text !== undefined && text !== null) { n.textContent = String(text); }
  return n;
}

/** svg makes an SVG element with the attributes. */
export function svg(tag, attrs) {
  const n = document.createElementNS(SVG_NS, tag);
  for (const k of Object.keys(attrs || {})) { n.setAttribute(k, String(attrs[k])); }
  return n;
}

/** svgIcon draws one of the client's small icons ("lock"). */
export function svgIcon(kind) {
  const s = svg("svg", { viewBox: "0 0 16 16", width: 14, height: 14, "aria-hidden": "true", focusable: "false", "class": "icon icon-" + kind });
  const d = kind === "lock"
    ? "M4 7V5a4 4 0 1 1 8 0v2h.5A1.5 1.5 0 0 1 14 8.5v5a1.5 1.5 0 0 1-1.5 1.5h-9A1.5 1.5 0 0 1 2 13.5v-5A1.5 1.5 0 0 1 3.5 7H4zm2 0h4V5a2 2 0 1 0-4 0v2z"
    : "M8 1.5a6.5 6.5 0 1 0 0 13 6.5 6.5 0 0 0 0-13zM3.8 4.9l7.3 7.3A5 5 0 0 1 3.8 4.9zm8.4 6.2L4.9 3.8a5 5 0 0 1 7.3 7.3z";
  s.appendChild(svg("path", { d: d, fill: "currentColor" }));
  return s;
}

/** badge makes a small label. */
export function badge(text, cls) {
  return node("span", "badge " + (cls || ""), text);
}

/** applyStyle shows a message style (b, i, u, color) on an element. */
export function applyStyle(n, st) {
  st = st || {};
  n.style.fontWeight = st.b ? "bold" : "";
  n.style.fontStyle = st.i ? "italic" : "";
  n.style.textDecoration = st.u ? "underline" : "";
  n.style.color = st.color && COLOR_RE.test(st.color) ? st.color : "";
}

/**
 * syncList makes the <li> children of list show items in order, one per
 * key (held in the attribute keyAttr). An item already shown keeps its
 * element and button, so updates (counts change all the time in a busy
 * chat) never swap a button out from under a click. create makes the <li>
 * of a new key; fill brings an <li> up to date with its item.
 */
export function syncList(list, items, keyAttr, keyOf, create, fill) {
  const old = new Map();
  for (const li of Array.from(list.children)) { old.set(li.getAttribute(keyAttr), li); }
  items.forEach((item, i) => {
    const key = keyOf(item);
    let li = old.get(key);
    if (li) {
      old.delete(key);
    } else {
      li = create(key);
      li.setAttribute(keyAttr, key);
    }
    fill(li, item);
    if (list.children[i] !== li) { list.insertBefore(li, list.children[i] || null); }
  });
  old.forEach((li) => { list.removeChild(li); });
}

/** listItem makes an <li> holding one button that calls onClick. */
export function listItem(buttonClass, onClick) {
  const li = document.createElement("li");
  const btn = document.createElement("button");
  btn.type = "button";
  btn.className = buttonClass;
  btn.addEventListener("click", onClick);
  li.appendChild(btn);
  return li;
}

/** sameName compares user names as the server does (without regard to case). */
export function sameName(a, b) {
  return String(a).toLowerCase() === String(b).toLowerCase();
}

/** httpURL returns u when it is an absolute http(s) URL, else "". */
export function httpURL(u) {
  return typeof u === "string" && /^https?:\/\/[^\s]+$/i.test(u) ? u : "";
}
