// Draw every chart whose figure the build embedded as JSON.
document.querySelectorAll("script.plot").forEach(function (node) {
  var figure = JSON.parse(node.textContent);
  var target = document.getElementById(node.dataset.target);
  Plotly.newPlot(target, figure.data, figure.layout, { displaylogo: false, responsive: true });
});
