"""The Service Catalog portfolio that makes the product a SageMaker project template in Studio.

The source article clicks these together in the console: a portfolio, a product from the template,
the `sagemaker:studio-visibility=true` tag (without it Studio does not list the template), a launch
constraint naming the launch role, and a principal association per Studio execution role. Here they
are one template (kind `portfolio-template`), deployed after the product template is uploaded:
`ProductTemplateUrl` is its HTTPS URL (publish fills it).

Service Catalog refuses a launch constraint for a product that is not yet in the portfolio, so the
constraint depends on the product association.
"""

from __future__ import annotations

from troposphere import GetAtt, Output, Parameter, Ref, Tags, Template
from troposphere.servicecatalog import (
    CloudFormationProduct,
    Info,
    LaunchRoleConstraint,
    Portfolio,
    PortfolioPrincipalAssociation,
    PortfolioProductAssociation,
    ProvisioningArtifactProperties,
)

from generator.config import RenderConfig
from generator.product.kms import launch_role_arn
from generator.rendered import RenderedFile, template_file

KIND = "portfolio-template"
STEM = "portfolio-template"
PROVIDER = "mlops-gen"
#: Studio lists a Service Catalog product as a project template only with this tag.
STUDIO_VISIBILITY = {"sagemaker:studio-visibility": "true"}
DESCRIPTION = (
    "mlops-gen: the Service Catalog portfolio and product that make the multi-account deployment template "
    "a SageMaker project template in Studio."
)


def add_portfolio(template: Template, cfg: RenderConfig) -> Portfolio:
    return template.add_resource(
        Portfolio(
            "Portfolio",
            DisplayName=cfg.portfolio_name,
            ProviderName=PROVIDER,
            Description="SageMaker project templates that deploy approved models to staging and prod accounts.",
        )
    )


def add_product(template: Template, cfg: RenderConfig, url: Parameter, version: Parameter) -> CloudFormationProduct:
    return template.add_resource(
        CloudFormationProduct(
            "Product",
            Name=cfg.product_name,
            Owner=PROVIDER,
            Description=(
                "Deploys models approved in the project's model registry to every account of a staging OU, "
                "tests them, and after manual approval to a production OU."
            ),
            ProvisioningArtifactParameters=[
                ProvisioningArtifactProperties(
                    Name=Ref(version),
                    Description="The product template rendered by mlops-gen.",
                    Info=Info(LoadTemplateFromURL=Ref(url)),
                    Type="CLOUD_FORMATION_TEMPLATE",
                )
            ],
            Tags=Tags(**STUDIO_VISIBILITY),
        )
    )


def add_launch_constraint(
    template: Template, cfg: RenderConfig, portfolio: Portfolio, product: CloudFormationProduct,
    association: PortfolioProductAssociation,
) -> LaunchRoleConstraint:  # fmt: skip
    return template.add_resource(
        LaunchRoleConstraint(
            "LaunchConstraint",
            PortfolioId=Ref(portfolio),
            ProductId=Ref(product),
            RoleArn=launch_role_arn(cfg),
            Description="Launch the SageMaker project product as its launch role.",
            DependsOn=[association.title],
        )
    )


def add_principals(template: Template, cfg: RenderConfig, portfolio: Portfolio) -> list[PortfolioPrincipalAssociation]:
    """One association per Studio execution role: those users see the template in Studio."""
    return [
        template.add_resource(
            PortfolioPrincipalAssociation(
                f"StudioRole{index}Association",
                PortfolioId=Ref(portfolio),
                PrincipalARN=arn,
                PrincipalType="IAM",
            )
        )
        for index, arn in enumerate(cfg.studio_role_arns, start=1)
    ]


def build_portfolio(cfg: RenderConfig) -> Template:
    template = Template(Description=DESCRIPTION)
    template.set_version("2010-09-09")
    url = template.add_parameter(
        Parameter(
            "ProductTemplateUrl",
            Type="String",
            AllowedPattern=r"^https://\S+$",
            Description="HTTPS URL of the uploaded product template (mlops-gen publish fills it).",
        )
    )
    version = template.add_parameter(
        Parameter(
            "ProductVersionName",
            Type="String",
            Default="v1",
            MinLength=1,
            MaxLength=100,
            Description="Name of this product version; give a new name with each new template URL.",
        )
    )
    portfolio = add_portfolio(template, cfg)
    product = add_product(template, cfg, url, version)
    association = template.add_resource(
        PortfolioProductAssociation("ProductAssociation", PortfolioId=Ref(portfolio), ProductId=Ref(product))
    )
    add_launch_constraint(template, cfg, portfolio, product, association)
    add_principals(template, cfg, portfolio)
    template.add_output(Output("PortfolioId", Value=Ref(portfolio)))
    template.add_output(Output("ProductId", Value=Ref(product)))
    template.add_output(Output("ProductName", Value=GetAtt(product, "ProductName")))
    return template


def portfolio_files(cfg: RenderConfig) -> list[RenderedFile]:
    return [template_file(KIND, STEM, build_portfolio(cfg), cfg)]
