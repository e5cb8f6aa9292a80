"""Command line for the one trainer (colorizer/trainer.py).

    python -m colorizer.train --model unet --batch-size 100 --epochs 25 \
        --data ../shared/data/cifar10 --out checkpoints/unet.pt
"""
import argparse

from .trainer import add_config_arguments, config_from_arguments, data_for, tqdm_reporter, train


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Train a colourization CNN or UNet on one CIFAR-10 category.")
    add_config_arguments(parser)
    parser.add_argument("--out", required=True, help="checkpoint path to write, e.g. checkpoints/unet.pt")
    arguments = parser.parse_args(argv)
    config = config_from_arguments(arguments)
    data = data_for(config)
    result = train(config, data, on_progress=tqdm_reporter(config, data, config.model))
    result.save(arguments.out)
    meta = result.meta()
    print(f"saved {arguments.out}: val_loss {meta['val_loss']:.4f}, val_acc {meta['val_acc']:.4f}, "
          f"{meta['train_seconds']:.0f} s on {meta['device']}")


if __name__ == "__main__":
    from pixelwise.process import set_up_training_command

    set_up_training_command()  # huge pages, freed memory kept: this process only trains
    main()
