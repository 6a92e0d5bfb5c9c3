// The overview's delivery charts. Data comes from the canvas' data-series attribute (JSON), so the
// page needs no inline script; Chart.js is served from /assets/vendor.
(function () {
  'use strict';
  var COLORS = { succeeded: '#1e8e5a', failed: '#e0a030', dead: '#c0392b' };
  var LABELS = { succeeded: 'Succeeded', failed: 'Failed (will retry)', dead: 'Dead (gave up)' };

  function label(iso, withDay) {
    var d = new Date(iso);
    var hh = String(d.getUTCHours()).padStart(2, '0') + ':00';
    if (!withDay) return hh;
    return d.toISOString().slice(5, 10) + ' ' + hh;
  }

  function draw(canvas) {
    var series = JSON.parse(canvas.getAttribute('data-series'));
    var withDay = series.hours.length > 24;
    return new Chart(canvas, {
      type: 'bar',
      data: {
        labels: series.hours.map(function (h) { return label(h, withDay); }),
        datasets: ['succeeded', 'failed', 'dead'].map(function (k) {
          return { label: LABELS[k], data: series[k], backgroundColor: COLORS[k], stack: 'all', borderWidth: 0 };
        }),
      },
      options: {
        animation: false,
        maintainAspectRatio: false,
        plugins: { legend: { display: false }, tooltip: { mode: 'index', intersect: false } },
        scales: {
          x: { stacked: true, grid: { display: false }, ticks: { maxTicksLimit: withDay ? 7 : 12, maxRotation: 0 } },
          y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } },
        },
      },
    });
  }

  document.addEventListener('DOMContentLoaded', function () {
    if (typeof Chart === 'undefined') return;
    document.querySelectorAll('canvas[data-series]').forEach(function (c) {
      var chart = draw(c);
      c.setAttribute('data-rendered', 'true');
      c.chart = chart;
    });
    // 24 h / 7 days switch.
    document.querySelectorAll('button[data-chart]').forEach(function (b) {
      b.classList.remove('hidden');
      b.addEventListener('click', function () {
        document.querySelectorAll('button[data-chart]').forEach(function (o) {
          var box = document.getElementById(o.getAttribute('data-chart'));
          var on = o === b;
          o.classList.toggle('primary', on);
          if (box) box.classList.toggle('hidden', !on);
        });
      });
    });
  });
})();
