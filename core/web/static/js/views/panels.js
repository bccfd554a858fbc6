// The side panels: drawers on narrow screens, and the panels and toolbar
// buttons that extensions add.

import { node } from "../dom.js";

/** createPanels wires the drawers into app. */
export function createPanels(app) {
  const { el } = app;

  // On narrow screens the rooms and people panels are drawers over the
  // chat, with a backdrop (shown by the style sheet for the open drawer
  // named in the chat view's data-drawer) that closes them on a tap.
  function toggle(panel, button, other, otherButton) {
    const open = !panel.classList.contains("open");
    panel.classList.toggle("open", open);
    button.setAttribute("aria-expanded", open ? "true" : "false");
    other.classList.remove("open");
    otherButton.setAttribute("aria-expanded", "false");
    el.chatView.setAttribute("data-drawer", open ? (panel === el.roomsPanel ? "rooms" : "users") : "");
  }

  function close() {
    el.roomsPanel.classList.remove("open");
    el.usersPanel.classList.remove("open");
    el.toggleRooms.setAttribute("aria-expanded", "false");
    el.toggleUsers.setAttribute("aria-expanded", "false");
    el.chatView.setAttribute("data-drawer", "");
  }

  el.toggleRooms.addEventListener("click", () => { toggle(el.roomsPanel, el.toggleRooms, el.usersPanel, el.toggleUsers); });
  el.toggleUsers.addEventListener("click", () => { toggle(el.usersPanel, el.toggleUsers, el.roomsPanel, el.toggleRooms); });
  el.backdrop.addEventListener("click", close);
  document.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && el.chatView.getAttribute("data-drawer")) { close(); }
  });

  // addPanel adds a titled section under the people list and returns its
  // body element.
  function addPanel(id, title) {
    const sec = node("section", "ext-panel");
    sec.setAttribute("data-panel", id);
    const h = node("h3", "ext-panel-title", title);
    const body = node("div", "ext-panel-body");
    sec.appendChild(h);
    sec.appendChild(body);
    el.extPanels.appendChild(sec);
    el.extPanels.hidden = false;
    return { section: sec, body: body };
  }

  // addToolbarButton adds a button to the top bar.
  function addToolbarButton(id, label, onClick) {
    const b = node("button", "btn btn-ghost btn-small toolbar-button", label);
    b.type = "button";
    b.setAttribute("data-button", id);
    b.addEventListener("click", onClick);
    el.toolbar.appendChild(b);
    if (app.state.me) { el.toolbar.hidden = false; }
    return b;
  }

  return { close: close, addPanel: addPanel, addToolbarButton: addToolbarButton };
}
