// Heroku's nav header: boomerang reads the app and add-on from the body's data attributes.
// Kept out of the page so the CSP needs no 'unsafe-inline'.
document.addEventListener('DOMContentLoaded', function () {
  var body = document.body;
  if (typeof Boomerang === 'undefined') return; // blocked or offline: the page works without it
  Boomerang.init({ app: body.getAttribute('data-heroku-app'), addon: body.getAttribute('data-heroku-addon') });
});
