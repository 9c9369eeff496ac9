import torch

from llmrec_cli.rlmrec import config
from llmrec_cli.rlmrec.backbones.base import Batch
from llmrec_cli.rlmrec.backbones.mf import MF
from llmrec_cli.rlmrec.graph import InteractionGraph


def test_mf_scores_the_id_embeddings_themselves():
    graph = InteractionGraph.from_arrays([0, 1], [1, 0], 2, 2)
    model = MF(graph, config.resolve("mf", "none", "demo"))
    ego = model.ego()
    assert torch.equal(model.propagate(ego, training=True), ego)
    batch = Batch(torch.tensor([0]), torch.tensor([1]), torch.tensor([0]))
    parts, final = model.loss(batch, ego)
    u, p, n = ego[0], ego[2 + 1], ego[2 + 0]
    want = torch.nn.functional.softplus((u * n).sum() - (u * p).sum())
    torch.testing.assert_close(parts["bpr"], want)
    assert final is ego
