def make_figures(results, thresholds, out_dir, swept=None):
    raise NotImplementedError
