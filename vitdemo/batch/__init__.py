"""A folder at once: `python -m vitdemo explain DIR --out OUT` (issue 26 item 2).

`files` finds the images and keeps `OUT/results.csv` (what is done survives an interrupted run), `curves`
scores many images' maps with deletion and insertion in shared batched forwards, `run` explains one batch
of images (one forward for all of them), and `vitdemo/explain_cli.py` is the command around them.
"""
