// The schedule module's web client extension: an administrator edits the
// current room's opening times in a panel ("Opening times" in the top
// bar), one rule a line as "o,s,e" (day2,09:00:00,17:00:00), and its zone.
// Everyone may type /hours to see the current room's times in words.

function text(el, tag, value, cls) {
  const n = document.createElement(tag);
  if (cls) n.className = cls;
  if (value !== undefined) n.textContent = value;
  el.appendChild(n);
  return n;
}

const lines = (times) => times.map((t) => [t.o, t.s, t.e].join(",")).join("\n");

function parse(value) {
  return value.split("\n").map((l) => l.trim()).filter((l) => l).map((l) => {
    const [o, s, e] = l.split(",").map((x) => (x || "").trim());
    return { o, s, e };
  });
}

// when writes an RFC 3339 instant in the room's zone.
function when(iso, tz) {
  const d = new Date(iso);
  if (isNaN(d.getTime())) return iso;
  const opts = { weekday: "short", day: "numeric", month: "short", hour: "2-digit", minute: "2-digit", hourCycle: "h23", timeZoneName: "short" };
  try { return d.toLocaleString(undefined, Object.assign({ timeZone: tz }, opts)); } catch (e) { return d.toLocaleString(undefined, opts); }
}

function summary(a) {
  if (!a.times.length) return "No opening times: the room is always open.";
  const state = a.open ? "open" : "closed";
  const next = a.next ? (a.opens ? ", opens " : ", closes ") + when(a.next, a.tz) : "";
  return a.text.join("; ") + " (" + a.tz + "): " + state + next + ".";
}

export default function (api) {
  let panel = null;

  function openPanel() {
    if (panel) { panel.remove(); panel = null; return; }
    const room = api.room();
    if (!room) { api.showSystem("Enter a room to edit its opening times."); return; }
    panel = api.addPanel({
      id: "times",
      title: "Opening times of " + room.name,
      render(el) {
        const area = text(el, "textarea", undefined, "schedule-times");
        area.rows = 4;
        area.placeholder = "day2,09:00:00,17:00:00";
        area.setAttribute("aria-label", "Opening times, one a line: o,s,e");
        const zone = text(el, "input", undefined, "schedule-zone");
        zone.placeholder = "zone (empty: the chat's)";
        zone.setAttribute("aria-label", "Time zone");
        const save = text(el, "button", "Save", "schedule-save");
        save.type = "button";
        const status = text(el, "p", "", "schedule-status");
        api.send("schedule.get", { room: room.id }).then((a) => {
          area.value = lines(a.times);
          zone.value = a.own_tz || "";
          status.textContent = summary(a);
        }).catch((e) => { status.textContent = e.message; });
        save.addEventListener("click", () => {
          api.send("schedule.set", { room: room.id, times: parse(area.value), tz: zone.value.trim() })
            .then((a) => { status.textContent = "Saved. " + summary(a); })
            .catch((e) => { status.textContent = e.message; });
        });
      },
    });
  }

  // The button is an administrator's only: added at a login as one,
  // taken away at any other login.
  let button = null;
  api.on("login_ok", (ev) => {
    const admin = !!(ev.user && ev.user.admin);
    if (admin && !button) {
      button = api.addToolbarButton({ id: "times", label: "Opening times", onClick: openPanel });
    } else if (!admin && button) {
      button.remove();
      button = null;
    }
  });

  api.addCommand("/hours", (args, room) => {
    if (!room) { api.showSystem("Enter a room first."); return; }
    api.send("schedule.get", { room: room.id })
      .then((a) => api.showSystem(summary(a)))
      .catch((e) => api.showSystem(e.message));
  });
}
