class Production:
    SQLALCHEMY_DATABASE_URI = "postgresql+psycopg://blog@db/blog"


class Testing:
    TESTING = True
    SQLALCHEMY_DATABASE_URI = "sqlite://"
