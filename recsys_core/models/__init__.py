"""Models: every recommender the zoo offers, behind one interface (`base.Recommender`).

Holds the configs (`configs`, torch-free: every field with its range and help), the
interface and its declared capabilities (`base`: needs ratings, has embeddings, reads
history, keeps state), the closed-form baselines (`baselines`: popularity, EASE), genre
similarity (`content`), the neural base (`neural`) and the networks: MF and NeuMF (`ncf`),
AutoRec and CDAE (`autoencoders`), the embedding regressor (`embnet`), SASRec, GRU4Rec and
BERT4Rec (`sequential`). A model keeps its own inference state; how it is trained lives in
`training`, so nothing here imports the training loop.

May import: the foundation (config, errors, paths) and `data`.
"""
