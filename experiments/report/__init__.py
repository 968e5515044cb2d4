"""
The report made from the sweeps' CSVs, `docs/results.md` (`scripts/make_report.py`):

- `tables`: the tables of Winata et al. 2019 from a sweep CSV, over seeds;
- `winata2019_published`: the paper's published numbers, shown beside ours;
- `findings`: the paper's four findings checked by paired comparisons;
- `document`: the whole report (tables, figures, findings, norm analyses, definitions).
"""
