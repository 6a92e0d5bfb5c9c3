// Small progressive enhancements; every page works without them.
(function () {
  'use strict';

  // Copy buttons: <button data-copy="element-id">. The text stays selectable for the no-JS case.
  function copyFrom(button) {
    var target = document.getElementById(button.getAttribute('data-copy'));
    if (!target) return;
    var text = target.value !== undefined && target.tagName !== 'PRE' ? target.value : target.textContent;
    var done = function () {
      var label = button.textContent;
      button.textContent = 'Copied';
      setTimeout(function () { button.textContent = label; }, 1500);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, function () { selectText(target); });
    } else {
      selectText(target);
    }
  }
  function selectText(el) {
    var range = document.createRange();
    range.selectNodeContents(el);
    var sel = window.getSelection();
    sel.removeAllRanges();
    sel.addRange(range);
  }

  // Buttons that ask before a destructive action (the server has its own confirmation page too).
  function confirmSubmit(event) {
    var message = event.target.getAttribute('data-confirm');
    if (message && !window.confirm(message)) event.preventDefault();
  }

  // Code sample tabs: <button data-tab="id" data-tab-group="g">.
  function showTab(button) {
    var group = button.getAttribute('data-tab-group');
    document.querySelectorAll('[data-tab-group="' + group + '"]').forEach(function (b) {
      var panel = document.getElementById(b.getAttribute('data-tab'));
      var on = b === button;
      b.classList.toggle('primary', on);
      if (panel) panel.classList.toggle('hidden', !on);
    });
  }

  document.addEventListener('DOMContentLoaded', function () {
    document.querySelectorAll('button[data-copy]').forEach(function (b) {
      b.classList.remove('hidden');
      b.addEventListener('click', function () { copyFrom(b); });
    });
    document.querySelectorAll('form[data-confirm]').forEach(function (f) {
      f.addEventListener('submit', confirmSubmit);
    });
    var groups = {};
    document.querySelectorAll('button[data-tab]').forEach(function (b) {
      b.classList.remove('hidden');
      b.addEventListener('click', function () { showTab(b); });
      var g = b.getAttribute('data-tab-group');
      if (!groups[g]) { groups[g] = true; showTab(b); }
    });
  });
})();
