from decimal import Decimal

import factory
from factory.alchemy import SQLAlchemyModelFactory

from storefront.models import ApiToken, Category, Customer, Order, OrderLine, Product
from storefront.security import hash_password

PASSWORD = "correct horse battery"


class BaseFactory(SQLAlchemyModelFactory):
    class Meta:
        abstract = True
        sqlalchemy_session = None  # set per test by the autouse fixture in conftest.py
        sqlalchemy_session_persistence = "flush"


class CustomerFactory(BaseFactory):
    class Meta:
        model = Customer

    email = factory.Sequence(lambda n: f"customer{n}@example.com")
    full_name = factory.Faker("name")
    password_hash = factory.LazyFunction(lambda: hash_password(PASSWORD))


class ApiTokenFactory(BaseFactory):
    class Meta:
        model = ApiToken

    customer = factory.SubFactory(CustomerFactory)
    label = "tests"


class CategoryFactory(BaseFactory):
    class Meta:
        model = Category

    slug = factory.Sequence(lambda n: f"category-{n}")
    name = factory.Faker("word")


class ProductFactory(BaseFactory):
    class Meta:
        model = Product

    sku = factory.Sequence(lambda n: f"SKU-{n:05d}")
    name = factory.Faker("catch_phrase")
    description = factory.Faker("paragraph", nb_sentences=2)
    price = factory.Faker("pydecimal", left_digits=2, right_digits=2, min_value=Decimal("1"), max_value=Decimal("99"))
    stock = factory.Faker("random_int", min=5, max=50)


class OrderFactory(BaseFactory):
    class Meta:
        model = Order

    customer = factory.SubFactory(CustomerFactory)
    status = "pending"
    placed_at = factory.Faker("date_time_this_year")


class OrderLineFactory(BaseFactory):
    class Meta:
        model = OrderLine

    order = factory.SubFactory(OrderFactory)
    product = factory.SubFactory(ProductFactory)
    quantity = factory.Faker("random_int", min=1, max=4)
    unit_price = factory.SelfAttribute("product.price")


ALL = [CustomerFactory, ApiTokenFactory, CategoryFactory, ProductFactory, OrderFactory, OrderLineFactory]
