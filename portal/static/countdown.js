// Progressive enhancement for "Send a new code": counts the cooldown down and enables the button when
// it ends. Without JavaScript the page states the time and the button works after it.
(function () {
  "use strict";
  document.querySelectorAll("[data-countdown]").forEach(function (note) {
    var seconds = parseInt(note.getAttribute("data-countdown"), 10);
    var button = document.getElementById(note.getAttribute("data-countdown-button"));
    var status = document.getElementById(note.getAttribute("data-countdown-status"));
    var text = note.querySelector(".countdown-text");
    if (!button || !text || !(seconds > 0)) { return; }
    var deadline = Date.now() + seconds * 1000;
    button.disabled = true;
    function tick() {
      var left = Math.ceil((deadline - Date.now()) / 1000);
      if (left <= 0) {
        button.disabled = false;
        note.textContent = "You can ask for a new code now.";
        if (status) { status.textContent = "You can ask for a new code now."; }
        return;
      }
      text.textContent = "in " + left + " second" + (left === 1 ? "" : "s");
      window.setTimeout(tick, Math.min(1000, deadline - Date.now() - (left - 1) * 1000));
    }
    tick();
  });
})();
