"""Every picture sunprep writes, drawn with matplotlib: pure functions from data to a Figure.

`canvas` makes figures and writes them; `scores` draws evaluate's and analyze's scores,
`curves` the training curves, `study` the cross-domain matrix, `samples` images with their
labels. Commands call `canvas.save_png(figure, path)`; tests inspect the Figure itself.
"""
