// The dice module's web client extension (docs/client-extensions.md):
// "/roll 2d6" sends dice.roll and prints the answer; the dice.rolled events
// of other users' rolls in the room are printed the same way.

// line is "alice rolled 2d6: 3 + 5 = 8" ("bob rolled 1d20: 17" for one die).
const line = (d) =>
  `${d.user} rolled ${d.dice}: ${d.rolls.length > 1 ? d.rolls.join(" + ") + " = " : ""}${d.total}`;

export default function (api) {
  api.addCommand("/roll", (args) => {
    api.send("dice.roll", { dice: args || "1d6" })
      .then((r) => api.showSystem(line({ ...r, user: api.user()?.name ?? "You" })))
      .catch((e) => api.showSystem(`No roll: ${e.message}`));
  });
  api.on("dice.rolled", (ev) => {
    // The caller's own roll is printed from the answer above.
    if (ev.data.user !== api.user()?.name) api.showSystem(line(ev.data));
  });
}
