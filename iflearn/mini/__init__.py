"""mini-IF: a tiny IF-architecture cascade that this project trains and ships (see ``iflearn.mini.train``)."""
