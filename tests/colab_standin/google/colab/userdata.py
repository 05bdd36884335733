"""``google.colab.userdata``: Colab's Secrets; the stand-in has none."""


class SecretNotFoundError(KeyError):
    pass


def get(name: str) -> str:
    raise SecretNotFoundError(name)
