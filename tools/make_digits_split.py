"""Write minicnn/_digits/split.txt: the fixed train/test split of ``load_digits``.

    python tools/make_digits_split.py        # needs scikit-learn (only this tool does)

The split is scikit-learn's ``train_test_split(test_size=360, stratify=labels,
random_state=0)`` over the rows of minicnn/_digits/digits.csv.gz, in the order it returns them,
which is the split minicnn used when it loaded the digits through scikit-learn; the file lets
minicnn reproduce it without scikit-learn.
"""
from pathlib import Path

import numpy as np
from sklearn.model_selection import train_test_split

HERE = Path(__file__).resolve().parent.parent / "minicnn" / "_digits"


def main():
    labels = np.loadtxt(HERE / "digits.csv.gz", delimiter=",")[:, 64].astype(np.int64)
    train, test = train_test_split(np.arange(len(labels)), test_size=360, stratify=labels,
                                   random_state=0)
    header = (HERE / "split.txt").read_text().splitlines()[:4]
    lines = header + [" ".join(map(str, train)), " ".join(map(str, test))]
    (HERE / "split.txt").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
