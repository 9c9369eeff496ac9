"""Numbers reported in the RLMRec paper (WWW'24), copied from ../shared/docs/rlmrec.md §8, for side-by-side tables."""

METRICS = ("recall@5", "recall@10", "recall@20", "ndcg@5", "ndcg@10", "ndcg@20")

# Table 1, Amazon-book: (backbone, variant) -> R@5 R@10 R@20 N@5 N@10 N@20 (mean of 5 runs).
TABLE1_AMAZON = {
    ("semantic", "none"): (0.0081, 0.0125, 0.0199, 0.0072, 0.0088, 0.0112),
    ("gccf", "none"): (0.0537, 0.0872, 0.1343, 0.0537, 0.0653, 0.0807),
    ("gccf", "con"): (0.0561, 0.0899, 0.1395, 0.0562, 0.0679, 0.0842),
    ("gccf", "gen"): (0.0551, 0.0891, 0.1372, 0.0559, 0.0675, 0.0832),
    ("lightgcn", "none"): (0.0570, 0.0915, 0.1411, 0.0574, 0.0694, 0.0856),
    ("lightgcn", "con"): (0.0608, 0.0969, 0.1483, 0.0606, 0.0734, 0.0903),
    ("lightgcn", "gen"): (0.0596, 0.0948, 0.1446, 0.0605, 0.0724, 0.0887),
    ("sgl", "none"): (0.0637, 0.0994, 0.1473, 0.0632, 0.0756, 0.0913),
    ("sgl", "con"): (0.0655, 0.1017, 0.1528, 0.0652, 0.0778, 0.0945),
    ("sgl", "gen"): (0.0644, 0.1015, 0.1537, 0.0648, 0.0777, 0.0947),
    ("simgcl", "none"): (0.0618, 0.0992, 0.1512, 0.0619, 0.0749, 0.0919),
    ("simgcl", "con"): (0.0633, 0.1011, 0.1552, 0.0633, 0.0765, 0.0942),
    ("simgcl", "gen"): (0.0617, 0.0991, 0.1524, 0.0622, 0.0752, 0.0925),
    ("dccf", "none"): (0.0662, 0.1019, 0.1517, 0.0658, 0.0780, 0.0943),
    ("dccf", "con"): (0.0665, 0.1040, 0.1563, 0.0668, 0.0798, 0.0968),
    ("dccf", "gen"): (0.0666, 0.1046, 0.1559, 0.0670, 0.0801, 0.0969),
    ("autocf", "none"): (0.0689, 0.1055, 0.1536, 0.0705, 0.0828, 0.0984),
    ("autocf", "con"): (0.0695, 0.1083, 0.1586, 0.0704, 0.0837, 0.1001),
    ("autocf", "gen"): (0.0693, 0.1069, 0.1581, 0.0701, 0.0830, 0.0996),
}

# Table 4: seconds per training epoch on Amazon-book (Xeon Silver 4314 + RTX 3090).
TABLE4_AMAZON_SECONDS = {
    "none": {"gccf": 0.88, "lightgcn": 1.01, "sgl": 2.18, "simgcl": 2.62, "dccf": 2.26, "autocf": 2.73},
    "con": {"gccf": 1.95, "lightgcn": 1.94, "sgl": 2.58, "simgcl": 3.02, "dccf": 2.49, "autocf": 2.96},
    "gen": {"gccf": 1.72, "lightgcn": 1.76, "sgl": 2.36, "simgcl": 2.69, "dccf": 2.29, "autocf": 2.96},
}


def table1_amazon(backbone: str, variant: str) -> dict[str, float]:
    return dict(zip(METRICS, TABLE1_AMAZON[(backbone, variant)]))
