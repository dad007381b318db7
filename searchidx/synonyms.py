"""Acronyms of the field and what they stand for, applied to queries (not to the index).

`RL` also searches for "reinforcement learning", and "reinforcement learning" for `RL`:
writers use both, often one per post. The built-in table holds the acronyms the research
archives use most (counted in bair-blog, raisex-ai-news and smol-ainews: most are in ten
posts or more, written at least one way; a few rarer ones, such as RLAIF, MCTS, TRPO and
NeRF, are there because a researcher types them); a `[synonyms]` table in `searchidx.toml`
adds to it or replaces an entry:

    [synonyms]
    RAG = ["retrieval-augmented generation", "retrieval augmented generation"]
    SAE = ["sparse autoencoder"]

Case: an acronym is recognised as written in the table (`ViT`), in capitals (`VIT`) or,
unless it is also a common word, in lower case (`rlhf`). `RAG`, `CoT`, `MoE`, `SAC`,
`SAE` and `MAE` are words or names too ("rag", "cot", "Moe"), so typed in lower case they
are only themselves.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property

BUILT_IN: dict[str, tuple[str, ...]] = {
    # learning from rewards
    "RL": ("reinforcement learning",),
    "RLHF": ("reinforcement learning from human feedback",),
    "RLAIF": ("reinforcement learning from AI feedback",),
    "IRL": ("inverse reinforcement learning",),
    "MARL": ("multi-agent reinforcement learning",),
    "MDP": ("Markov decision process",),
    "MCTS": ("Monte Carlo tree search",),
    "PPO": ("proximal policy optimization",),
    "TRPO": ("trust region policy optimization",),
    "DPO": ("direct preference optimization",),
    "GRPO": ("group relative policy optimization",),
    "SAC": ("soft actor-critic",),
    "DQN": ("deep Q-network",),
    # language models
    "LLM": ("large language model",),
    "SLM": ("small language model",),
    "VLM": ("vision-language model", "vision language model"),
    "VLA": ("vision-language-action",),
    "NLP": ("natural language processing",),
    "CoT": ("chain of thought",),
    "RAG": ("retrieval-augmented generation", "retrieval augmented generation"),
    "ICL": ("in-context learning",),
    "SFT": ("supervised fine-tuning",),
    "PEFT": ("parameter-efficient fine-tuning",),
    "LoRA": ("low-rank adaptation",),
    "MoE": ("mixture of experts",),
    "MCP": ("model context protocol",),
    "NER": ("named entity recognition",),
    "QA": ("question answering",),
    "VQA": ("visual question answering",),
    "BPE": ("byte pair encoding", "byte-pair encoding"),
    "KD": ("knowledge distillation",),
    # architectures and models
    "ViT": ("vision transformer",),
    "CNN": ("convolutional neural network",),
    "RNN": ("recurrent neural network",),
    "LSTM": ("long short-term memory",),
    "GNN": ("graph neural network",),
    "MLP": ("multilayer perceptron", "multi-layer perceptron"),
    "FFN": ("feed-forward network",),
    "SSM": ("state space model", "state-space model"),
    "GAN": ("generative adversarial network",),
    "VAE": ("variational autoencoder",),
    "MAE": ("masked autoencoder",),
    "SAE": ("sparse autoencoder",),
    "EBM": ("energy-based model",),
    "LDM": ("latent diffusion model",),
    "NeRF": ("neural radiance field",),
    # speech, vision, training, hardware
    "ASR": ("automatic speech recognition",),
    "TTS": ("text-to-speech",),
    "OCR": ("optical character recognition",),
    "SGD": ("stochastic gradient descent",),
    "OOD": ("out-of-distribution",),
    "TPU": ("tensor processing unit",),
    "AGI": ("artificial general intelligence",),
    "SOTA": ("state of the art", "state-of-the-art"),
    "ML": ("machine learning",),
}

# Acronyms that are also words or names in lower case: recognised only with capitals.
CAPITALS_ONLY = frozenset({"RAG", "CoT", "MoE", "SAC", "SAE", "MAE"})


@dataclass(frozen=True, eq=False)  # compared (and cached by the query parser) as itself
class Synonyms:
    """acronym -> what it stands for; `capitals_only`: acronyms not recognised in lower
    case. An entry of one's own is recognised in lower case too, unless it replaces a
    capitals-only acronym written the same way (`RAG = [...]` stays capitals-only)."""

    table: Mapping[str, tuple[str, ...]]
    capitals_only: frozenset[str] = frozenset()

    def with_entries(self, entries: Mapping[str, Iterable[str]]) -> Synonyms:
        """This table with `entries` added; an entry replaces the built-in one of the same
        acronym (matched ignoring case)."""
        replaced = {key.lower() for key in entries}
        table = {key: value for key, value in self.table.items() if key.lower() not in replaced}
        table.update({key: tuple(value) for key, value in entries.items()})
        return Synonyms(table, frozenset(key for key in self.capitals_only if key in table))

    def expansions(self, word: str) -> tuple[str, tuple[str, ...]] | None:
        """(acronym, what it stands for) when `word` as typed is an acronym of the table,
        in the singular or plural (LLMs); else None."""
        for typed in (word, word[:-1] if len(word) > 2 and word[-1] in "sS" else None):
            if typed is None:
                continue
            key = self._keys.get(typed.lower())
            if key is not None and self._recognised(typed, key):
                return key, self.table[key]
        return None

    def _recognised(self, typed: str, key: str) -> bool:
        if typed == key or typed == key.upper():
            return True
        return typed == key.lower() and key not in self.capitals_only

    @cached_property
    def _keys(self) -> dict[str, str]:
        return {key.lower(): key for key in self.table}


DEFAULT_SYNONYMS = Synonyms(BUILT_IN, CAPITALS_ONLY)
