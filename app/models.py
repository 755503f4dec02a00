"""The embedding models datasets may use, and the chat model: configuration, not providers."""

from app.errors import DATA_ERROR, current_error
from app.settings import ConfigError

DEFAULT_MODELS = "BAAI/bge-small-en-v1.5@Local@Builtin"


def parts(model_id):
    """(model, provider) of `model@provider` or `model@instance@provider`."""
    names = model_id.split("@")
    return names[0], names[-1]


def well_formed(model_id):
    names = model_id.split("@") if isinstance(model_id, str) else []
    return len(names) in (2, 3) and all(name.strip() for name in names)


def check_config(config):
    """Parse EMBEDDING_MODELS and check the model settings, or raise ConfigError naming one."""
    models = config.setdefault("EMBEDDING_MODELS", DEFAULT_MODELS)
    if isinstance(models, str):
        models = tuple(model.strip() for model in models.split(","))
    if not models or not all(well_formed(model) for model in models):
        raise ConfigError(f"DATASET_API_EMBEDDING_MODELS must be comma-separated ids, each "
                         f"model@provider or model@instance@provider, not "
                         f"{config['EMBEDDING_MODELS']!r}")
    config["EMBEDDING_MODELS"] = tuple(models)
    default = config["EMBEDDING_MODEL"] = config.get("EMBEDDING_MODEL") or models[0]
    if default not in models:
        raise ConfigError(f"DATASET_API_EMBEDDING_MODEL must be one of "
                         f"DATASET_API_EMBEDDING_MODELS ({', '.join(models)}), not {default!r}")
    llm_id = config.setdefault("LLM_ID", None)
    if llm_id is not None and not (isinstance(llm_id, str) and llm_id.strip()):
        raise ConfigError(f"DATASET_API_LLM_ID must be a model id or unset, not {llm_id!r}")


def check_model(model_id, config):
    """Code 102, in RAGFlow's words, unless `model_id` names a configured model."""
    model, provider = parts(model_id)
    known = {parts(known_id) for known_id in config["EMBEDDING_MODELS"]}
    if provider not in {known_provider for _, known_provider in known}:
        raise current_error(DATA_ERROR, f"Provider {provider} not found for model {model_id}.")
    if (model, provider) not in known:
        raise current_error(DATA_ERROR, f"Model {model}@{provider} not found for model "
                                        f"embedding")
