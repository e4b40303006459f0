// The new-drill form: how long the drill takes in real time at the speed typed, as it is typed.
import { span } from "./clock.js";

const speed = document.getElementById("speed");
const plan = document.getElementById("plan");
const real = document.getElementById("plan-real");
const storySeconds = Number(plan.dataset.storySeconds);
const max = Number(speed.dataset.max);

function update() {
  const value = Number(speed.value);
  if (!speed.value.trim() || !(value > 0) || value > max) {
    real.textContent = `a speed above 0 and at most ${max}`;
    return;
  }
  real.textContent = span(storySeconds / value);
}

speed.addEventListener("input", update);
update();
