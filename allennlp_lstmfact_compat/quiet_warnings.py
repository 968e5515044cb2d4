"""
(12) Every command starts with FutureWarnings and UserWarnings about the libraries' own use of
deprecated APIs, none of which the user can act on:

- `pkg_resources is deprecated as an API` (spaCy 3.4's `spacy/cli/info.py` imports it);
- google `api_core`'s notice that it will stop supporting Python 3.11 (pulled in by cached-path's
  Google Cloud Storage client);
- `torch.cuda.amp.custom_fwd/custom_bwd(args...) is deprecated` (fairscale 0.4.6, imported by
  allennlp) and `torch.cuda.amp.autocast(args...) is deprecated` (allennlp's trainer and
  `evaluate`, which pass `enabled=False` on the CPU).

Each is ignored by a filter that names its message and the modules that trigger it; the same
warnings from any other module still show.
"""
import warnings

# (category, message regex, regex of the module the warning is attributed to)
IGNORED = (
    (UserWarning, r"pkg_resources is deprecated as an API", r"spacy\."),
    (FutureWarning, r"You are using a Python version .* which Google will stop supporting", r"google\.api_core\."),
    (FutureWarning, r"`torch\.cuda\.amp\.custom_(fwd|bwd)\(args\.\.\.\)` is deprecated", r"fairscale\."),
    (FutureWarning, r"`torch\.cuda\.amp\.autocast\(args\.\.\.\)` is deprecated", r"allennlp\."),
)


def install() -> None:
    """Add the filters (once) in front of the others."""
    for category, message, module in IGNORED:
        warnings.filterwarnings("ignore", message=message, category=category, module=module)
