"""The Markdown tables and the hand-written part every experiment's Markdown file keeps."""
from experiments.markdown import HAND_WRITTEN_MARKER, hand_written_part, markdown_table, write_generated_markdown


def test_tables_align_text_left_and_numbers_right():
    table = markdown_table(["model", "params"], [["dense", "1,000"]])
    assert table == "| model | params |\n|---|---:|\n| dense | 1,000 |"
    assert markdown_table(["a", "b", "c"], [], text_columns=2).splitlines()[1] == "|---|---|---:|"
    assert markdown_table(["a", "b", "c"], [], text_columns={0, 2}).splitlines()[1] == "|---|---:|---|"


def test_rewriting_keeps_the_hand_written_part(tmp_path):
    path = str(tmp_path / "doc.md")
    write_generated_markdown(path, "# first\n\n")
    assert open(path).read() == f"# first\n\n{HAND_WRITTEN_MARKER}\n" and hand_written_part(path) == "\n"
    with open(path, "a") as handle:
        handle.write("\nmine\n")
    write_generated_markdown(path, "# second\n\n")
    assert open(path).read() == f"# second\n\n{HAND_WRITTEN_MARKER}\n\nmine\n"
    assert hand_written_part(str(tmp_path / "missing.md")) == ""
