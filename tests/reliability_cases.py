"""The bad-input and failure cases of issue 21, each with what the user sees and the test that covers it.

``scripts/reliability_table.py`` renders this list as ``docs/reliability.md``; ``test_reliability.py`` checks that
every named test exists and asserts the message shown here, and that the page is up to date."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Case:
    area: str
    situation: str
    user_sees: str  # a fragment the covering test asserts, verbatim
    test: str  # "module::function"
    exit_code: int | None = 2  # None: the command succeeds (with a notice) or the case is not a command's error
    verbatim: bool = True  # False: ``user_sees`` describes the behaviour the test checks instead of quoting it


CASES = [
    Case(
        "run directory",
        "a second `train` writes the `-o` directory of a running one",
        "is in use by pid",
        "test_reliability::test_a_second_writer_of_a_run_directory_is_refused_naming_the_holder",
    ),
    Case(
        "run directory",
        "two real processes: the second `train -o DIR` while the first trains",
        "is in use by pid",
        "test_faults::test_two_processes_with_one_output_directory_the_second_is_refused",
    ),
    Case(
        "run directory",
        "the output directory cannot be created",
        "cannot create the run directory",
        "test_reliability::test_an_unwritable_output_directory_is_a_named_error",
    ),
    Case(
        "run directory",
        "a run fails before writing anything",
        "no directory is left behind",
        "test_reliability::test_a_run_that_fails_before_writing_leaves_no_directory",
        verbatim=False,
    ),
    Case(
        "checkpoints",
        "`model.safetensors` truncated, empty or random bytes (`predict`, `evaluate`)",
        "cannot be loaded",
        "test_reliability::test_a_damaged_checkpoint_is_a_named_error_in_predict_and_evaluate",
    ),
    Case(
        "checkpoints",
        "`predict` on a run that stopped before saving `best/`",
        "is a run directory without a best/ checkpoint",
        "test_faults::test_a_failure_while_writing_best_leaves_no_checkpoint_that_looks_valid",
    ),
    Case(
        "predict",
        'an empty text (`predict RUN ""`)',
        "text 2 is empty",
        "test_reliability::test_predict_refuses_an_empty_text",
    ),
    Case(
        "labels",
        "every training row has the same label",
        "every training row has the label 'sports'",
        "test_reliability::test_one_class_training_data_is_refused_before_training",
    ),
    Case(
        "data files",
        "a CSV with a header and no rows",
        "the file has no rows, only the header line",
        "test_reliability::test_a_header_only_file_says_it_has_no_rows",
    ),
    Case(
        "data files",
        "random bytes, or a CSV/TSV/JSONL/gzip/Parquet file with bytes cut, inserted or replaced",
        "a one-line named error",
        "test_fuzz::test_the_command_line_reports_a_malformed_file_in_one_line",
        verbatim=False,
    ),
    Case(
        "--set",
        "`--set foo_bar=3` (no such field)",
        "--set foo_bar is not a field",
        "test_reliability::test_set_values_are_validated_before_any_work",
    ),
    Case(
        "--set",
        "`--set residual=maybe` (not a boolean)",
        "--set residual='maybe'; expected true or false",
        "test_reliability::test_set_values_are_validated_before_any_work",
    ),
    Case(
        "--set",
        "`--set num_layers=1.5` or `num_layers=abc` (not an integer)",
        "--set num_layers=1.5; expected an integer",
        "test_reliability::test_set_values_are_validated_before_any_work",
    ),
    Case(
        "--set",
        "`--set num_layers=0`, `dropout=1.5` (out of range)",
        "--set num_layers must be >= 1",
        "test_reliability::test_set_values_are_validated_before_any_work",
    ),
    Case(
        "--set",
        "`-m tfidf --set c=0.5`, `-m fnet --set num_layers=2` (a baseline's unknown field)",
        "--set c is not a field of 'tfidf'; did you mean 'C'?",
        "test_reliability::test_set_values_of_baselines_are_validated_before_any_work",
    ),
    Case(
        "--set",
        "`-m tfidf --set C=strong` (a baseline's field of the wrong type)",
        "--set C='strong' for 'tfidf'; expected a number",
        "test_reliability::test_set_values_of_baselines_are_validated_before_any_work",
    ),
    Case(
        "--max-length",
        "`--max-length 1024` with a 512-position model",
        "--max-length=1024 is longer than the model's 512 positions",
        "test_reliability::test_max_length_beyond_the_position_table_is_refused_up_front",
    ),
    Case(
        "labels",
        "fractional labels (a regression task is inferred)",
        "Task: regression, inferred from the fractional labels",
        "test_reliability::test_fractional_labels_state_the_inferred_task_and_the_flag_overrides_it",
        exit_code=None,
    ),
    Case(
        "labels",
        'labels written "0.0", "1.0"',
        "single-label classification with 2 classes (0, 1)",
        "test_reliability::test_whole_decimal_labels_are_class_numbers_with_a_notice",
        exit_code=None,
    ),
    Case(
        "labels",
        "some labels numbers, some names",
        "the labels mix numbers",
        "test_reliability::test_labels_mixing_numbers_and_names_are_refused",
    ),
    Case(
        "labels",
        "`Sports` and `sports`; ` sports` and `sports `",
        "differ only in case",
        "test_reliability::test_labels_differing_only_in_case_are_refused_and_spaces_are_counted",
    ),
    Case(
        "data files",
        "a Parquet text column of integers or lists",
        "not text",
        "test_reliability::test_a_parquet_text_column_that_is_not_text_is_refused",
    ),
    Case(
        "data files",
        "empty texts in the test file",
        "Dropped 80 of 100 test row(s) with an empty text.",
        "test_reliability::test_dropped_empty_test_texts_are_printed",
        exit_code=None,
    ),
    Case(
        "data files",
        "texts longer than `--max-length`",
        "40 of 40 test texts reach max_length=5 tokens and are cut there (--max-length).",
        "test_reliability::test_texts_cut_at_max_length_are_counted_and_printed",
        exit_code=None,
    ),
    Case(
        "record",
        "a `--train-file` run",
        'results.json says "dataset": "train.csv"',
        "test_reliability::test_a_run_on_a_train_file_is_recorded_under_the_file_name",
        exit_code=None,
        verbatim=False,
    ),
    Case(
        "record",
        "`--resume` with changed options",
        "was trained with other settings: --epochs 1 (now 2)",
        "test_reliability::test_resuming_with_changed_options_is_refused_and_leaves_the_record",
    ),
    Case(
        "record",
        "a NaN loss in epoch 1",
        "No last/ checkpoint was written",
        "test_reliability::test_a_non_finite_loss_in_epoch_one_does_not_promise_a_checkpoint",
    ),
    Case(
        "flags",
        "`--epochs 0`, `--text-column body`, `--task ranking` ...",
        "Set --text-column to one of the columns",
        "test_reliability::test_errors_name_the_flags_the_user_typed",
    ),
    Case(
        "crashes",
        "SIGKILL at a random step, then `--resume`",
        "bit-identical to an uninterrupted run",
        "test_faults::test_sigkill_at_a_random_step_then_resume_is_bit_identical",
        exit_code=None,
        verbatim=False,
    ),
    Case(
        "crashes",
        "SIGKILL while `last/` is swapped in, then `--resume`",
        "bit-identical to an uninterrupted run",
        "test_faults::test_sigkill_while_last_is_swapped_in_then_resume_is_bit_identical",
        exit_code=None,
        verbatim=False,
    ),
    Case(
        "crashes",
        "disk full half-way through writing `best/`",
        "no half-written best/",
        "test_faults::test_a_failure_while_writing_best_leaves_no_checkpoint_that_looks_valid",
        exit_code=None,
        verbatim=False,
    ),
]
