"""Example user projects, copied into pytester folders by the plugin's own tests; never collected here."""

collect_ignore_glob = ["*"]
