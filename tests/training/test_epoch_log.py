"""The epoch table as CSV and the metric's name as a column: read back by the csv module, the
numbers exact, a missing number an empty cell, the metric columns only when there is a metric."""

import csv
import io
from types import SimpleNamespace

from ravine.training import Epoch
from ravine.training.epoch_log import epoch_table, metric_key


def rows(text):
    return list(csv.reader(io.StringIO(text)))


def test_metric_key_is_a_plain_column_name():
    assert metric_key("mae (points)") == "mae_points"
    assert metric_key("accuracy") == "accuracy"
    assert metric_key("") == "metric"


def test_the_table_has_every_epoch_of_every_fold_exactly():
    first = Epoch(1, 5, 0.1 + 0.2, 0.5, 0.25, None, 0.125)
    runs = [
        SimpleNamespace(fold=0, history=[first]),
        SimpleNamespace(fold=1, history=[Epoch(1, 5, 1e-300, 2.0, 0.5, 0.75, 1.0)]),
    ]
    header, one, two = rows(epoch_table(runs, "mae (points)", folds=True))
    assert header == [
        "fold",
        "epoch",
        "updates",
        "train_loss",
        "val_loss",
        "train_mae_points",
        "val_mae_points",
        "seconds",
    ]
    assert one == ["1", "1", "5", "0.30000000000000004", "0.5", "0.25", "", "0.125"]
    assert float(two[3]) == 1e-300 and two[0] == "2"


def test_without_a_metric_or_a_validation_set_the_columns_say_so():
    runs = [SimpleNamespace(fold=None, history=[Epoch(2, 10, 0.5, None, None, None, 0.5)])]
    assert rows(epoch_table(runs, "")) == [
        ["epoch", "updates", "train_loss", "val_loss", "seconds"],
        ["2", "10", "0.5", "", "0.5"],
    ]
