// Buttons of the demo page: each calls the tracker the way an application would.
const status = document.getElementById("demo-status");
const say = (text) => { status.textContent = text; };

document.addEventListener("click", (event) => {
  const el = event.target.closest("button");
  if (!el || !window.tracker) return;
  if (el.dataset.track) {
    const props = el.dataset.amount ? { amount: Number(el.dataset.amount), currency: "EUR" } : {};
    window.tracker.event(el.dataset.track, props);
    say(`Queued ${el.dataset.track}.`);
  } else if (el.dataset.identify) {
    window.tracker.identify(el.dataset.identify, { plan: "pro" });
    say(`Identified as ${el.dataset.identify}.`);
  } else if ("reset" in el.dataset) {
    window.tracker.reset();
    say("Identity reset.");
  } else if (el.dataset.navigate) {
    history.pushState({}, "", el.dataset.navigate);
    say(`Navigated to ${el.dataset.navigate}.`);
  } else if ("flush" in el.dataset) {
    window.tracker.flush();
    say("Sent.");
  }
});
