// Progressive enhancement: copy buttons for the sign-in name and the Temporary Access Pass. The page
// works without them (the text can be selected and copied by hand).
(function () {
  "use strict";
  if (!navigator.clipboard) { return; }
  document.querySelectorAll(".copy-button").forEach(function (button) {
    var target = document.getElementById(button.getAttribute("data-copy-target"));
    var status = document.getElementById(button.getAttribute("data-copy-status") || "copy-status");
    if (!target) { return; }
    button.hidden = false;
    button.addEventListener("click", function () {
      navigator.clipboard.writeText(target.textContent.trim()).then(function () {
        if (status) { status.textContent = "Copied."; }
      }, function () {
        if (status) { status.textContent = "Copy did not work; select the text and copy it by hand."; }
      });
    });
  });
})();
