// django-celery-beat's periodic task form (templates/admin/djcelery/): the crontab field's help
// also says what the chosen crontab means. Its own inline script, moved here for the CSP.
(function ($) {
  const read = (id) => JSON.parse(document.getElementById(id).textContent);
  const readable = read("readable-crontabs");
  const help = read("crontab-help");
  $(".field-crontab_translation").hide();
  $(".field-crontab").change(function () {
    // .text, not .html: the translation is data, not markup.
    const box = $(".field-crontab .help").text(help);
    const meaning = readable[$("#id_crontab").val()];
    box.append("<br>", document.createTextNode(`Translation: ${meaning}`));
  });
})(django.jQuery);
