import pytest
from allennlp.common.checks import ConfigurationError

from allennlp_lstmfact.lm.compression import CompressedFromPretrained, LanguageModelCompression


def test_fine_tuning_in_low_precision_is_refused_before_reading_the_archive():
    with pytest.raises(ConfigurationError, match=r"^fine-tuning in compression.precision 'int8' is refused: its layers "
                                                 r"are frozen \(no fp32 master weights\); fine-tune in fp32, then "
                                                 r"`allennlp compress --precision int8` the archive$"):
        CompressedFromPretrained.build(None, None, LanguageModelCompression(precision="int8"),
                                       pretrained_file="/nonexistent/model.tar.gz")


def test_precision_alone_is_a_compression():
    block = LanguageModelCompression(precision="bf16", target="both")
    assert block.compresses_lstm and block.describe() == "LSTM dense, bf16"
    with pytest.raises(ConfigurationError, match="compresses nothing: give method and rank"):
        LanguageModelCompression()
