"""memory-service: embedding and hybrid semantic/keyword retrieval via pgvector."""

__version__ = "0.1.0"
