/* A form with data-confirm="<dialog id>" asks first, in that dialog, which says what will happen; the form posts
   only when the dialog closes with the value "confirm". Without scripts the form posts straight away. */
document.addEventListener("submit", function (e) {
  "use strict";
  var form = e.target.closest("form[data-confirm]");
  if (!form || form.dataset.confirmed) return;
  var dialog = document.getElementById(form.dataset.confirm);
  if (!dialog || !dialog.showModal) return;
  e.preventDefault();
  dialog.addEventListener("close", function () {
    if (dialog.returnValue !== "confirm") return;
    form.dataset.confirmed = "1";
    form.submit();
  }, { once: true });
  dialog.showModal();
});
